"""The package as a cluster installs it: a built wheel in a fresh virtual environment, far from
the checkout, runs generate, run, sql and history with the configuration it carries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT

# What the wheel is built from: if it needed anything else from the checkout, the test fails.
SOURCES = ("pyproject.toml", "README.md", "lakehouse", "bronze", "silver", "gold", "conf")


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtual environment holding the built wheel, and the environment to run it in.

    Its dependencies come from this environment through a path file (nothing is downloaded);
    path files are not run from there, so this checkout's editable install is not visible.
    """
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LAKEHOUSE_CONF_DIR")}
    wheels = base / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    run([*build, "-w", str(wheels), str(source)], base, env)
    (wheel,) = wheels.glob("stedi_lakehouse-*.whl")

    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], base, env)
    python = venv / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], base, env
    )
    Path(site.stdout.strip(), "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        base,
        env,
    )
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return venv, env


@pytest.mark.slow
def test_the_installed_wheel_runs_away_from_the_checkout(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    lakehouse = str(venv / "bin" / "lakehouse")
    where = run(
        [str(venv / "bin" / "python"), "-c", "import lakehouse; print(lakehouse.__file__)"],
        tmp_path,
        env,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)

    version = run([lakehouse, "--version"], tmp_path, env).stdout.strip()
    assert version == f"lakehouse {project()['version']}"
    run([lakehouse, "generate", "--customers", "40", "--readings-per-customer", "6"], tmp_path, env)
    run([lakehouse, "run"], tmp_path, env)
    query = "SELECT count(*) AS n FROM gold.machine_learning_curated"
    counted = run([lakehouse, "sql", query, "--format", "csv"], tmp_path, env).stdout.split()
    assert counted[0] == "n" and int(counted[1]) > 0
    history = run([lakehouse, "history", "silver.customer_trusted"], tmp_path, env).stdout
    assert "WRITE" in history or "MERGE" in history
    # The data-quality rules ship beside the DDL files: every silver and gold table has some.
    tested = json.loads(run([lakehouse, "test", "--format", "json"], tmp_path, env).stdout)
    assert tested["passed"] is True
    assert {rule["table"] for rule in tested["rules"]} == {
        "silver.customer_trusted",
        "silver.accelerometer_trusted",
        "silver.step_trainer_trusted",
        "gold.customer_curated",
        "gold.machine_learning_curated",
    }
    # Its default paths are relative to where it runs, not to where it was built or installed,
    # for the CLI and for the notebooks' helper alike.
    assert (tmp_path / "data" / "warehouse" / "gold" / "machine_learning_curated").is_dir()
    helper = "from lakehouse.app.notebook import notebook_config as c; print(c().paths.warehouse)"
    python = str(venv / "bin" / "python")
    notebook_warehouse = run([python, "-c", helper], tmp_path, env).stdout.strip()
    assert notebook_warehouse == str(tmp_path / "data" / "warehouse")


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_a_cluster_install_pulls_no_engine_and_each_engine_has_its_extra() -> None:
    metadata = project()
    core = {Requirement(r).name for r in metadata["dependencies"]}  # type: ignore[attr-defined]
    extras: dict[str, list[str]] = metadata["optional-dependencies"]  # type: ignore[assignment]
    assert not core & {"pyspark", "pysail", "delta-spark"}
    assert {Requirement(r).name for r in extras["sail"]} == {"pysail", "pyspark"}
    assert {Requirement(r).name for r in extras["spark"]} == {"pyspark", "delta-spark"}
    # Ranges, never exact pins: the cluster's versions must be able to satisfy them.
    for line in [*metadata["dependencies"], *extras["sail"], *extras["spark"]]:  # type: ignore[misc]
        assert "==" not in line, line


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith(("#", " ")):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pinned[canonicalize_name(requirement.name)] = spec.version
    metadata = project()
    extras: dict[str, list[str]] = metadata["optional-dependencies"]  # type: ignore[assignment]
    declared = [*metadata["dependencies"], *(r for group in extras.values() for r in group)]  # type: ignore[misc]
    for line in declared:
        requirement = Requirement(line)
        if requirement.name == "stedi-lakehouse":
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in the lock"
        assert requirement.specifier.contains(pinned[name]), line


def test_without_an_engine_the_command_says_what_to_install(tmp_path: Path) -> None:
    result = without("pyspark", "tables", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "stedi-lakehouse[sail]" in result.stderr and "Traceback" not in result.stderr


# Hides the named top-level packages from imports, then runs the CLI with the given arguments.
HIDING = (
    "import sys\n"
    "HIDDEN = set(sys.argv[1].split(','))\n"
    "class Hide:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in HIDDEN:\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name.split('.')[0])\n"
    "sys.meta_path.insert(0, Hide())\n"
    "sys.argv = ['lakehouse', *sys.argv[2:]]\n"
    "from lakehouse.__main__ import main\n"
    "sys.exit(main())\n"
)


def without(packages: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", HIDING, packages, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_without_the_aws_extra_local_runs_work_and_s3_says_what_to_install(tmp_path: Path) -> None:
    generated = without("boto3,botocore", "generate", "--customers", "20", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    ran = without("boto3,botocore", "run", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "data" / "warehouse" / "gold" / "machine_learning_curated").is_dir()
    s3 = without("boto3,botocore", "run", "storage=s3", "storage.bucket=b", cwd=tmp_path)
    assert s3.returncode == 2
    assert s3.stderr.strip().count("\n") == 0 and "stedi-lakehouse[aws]" in s3.stderr

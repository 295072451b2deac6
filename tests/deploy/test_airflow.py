"""The Airflow DAG, in an Airflow of its own: it loads, and `airflow dags test` runs the layers
against sample data, retries a busy run and does not retry a configuration error.

Airflow is not installed beside the project (some 90 more packages, its own web server and
database layer): the module builds a virtual environment from
`deploy/orchestration/airflow/requirements.txt` (every package pinned, `--no-deps`, about a
minute) in a temporary folder. The DAG reaches the project only through the `lakehouse`
command on PATH, as in a real deployment; here that is a stand-in that answers "busy" once
and then hands over to this checkout's command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lakehouse.app.cli import main
from tests.helpers import ROOT, layer_table_rows

AIRFLOW_VERSION = "3.3.2"
DAG_FOLDER = ROOT / "deploy" / "orchestration" / "airflow"
REQUIREMENTS = DAG_FOLDER / "requirements.txt"
DAG_ID = "stedi_lakehouse"
# What pip prints when it cannot reach the index: only then is the test skipped.
UNREACHABLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
)


@dataclass(frozen=True)
class Airflow:
    bin: Path
    env: dict[str, str]

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            cwd=cwd,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def test_the_airflow_environment_is_pinned() -> None:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line  # `--no-deps` installs exactly these
            pins[requirement.name] = spec.version
    assert pins["apache-airflow"] == AIRFLOW_VERSION
    assert "stedi-lakehouse" not in pins and "pyspark" not in pins  # nothing of the project


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """Airflow in a venv of its own, its metadata database migrated (SQLite, under the folder)."""
    base = tmp_path_factory.mktemp("airflow")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    install = subprocess.run(
        [*pip, "--no-deps", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        if any(marker in output for marker in UNREACHABLE):
            pytest.skip(f"the package index is unreachable: no Airflow {AIRFLOW_VERSION} to test")
        pytest.fail(f"installing Airflow failed:\n{output[-3000:]}")
    # Airflow's process must not see this checkout: the DAG needs only the command.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LAKEHOUSE_CONF_DIR")}
    env |= {
        "AIRFLOW_HOME": str(base / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "LAKEHOUSE_RETRY_DELAY_SECONDS": "1",  # not five minutes: the test waits for the retry
    }
    found = Airflow(venv / "bin", env)
    migrated = found.run(str(found.bin / "airflow"), "db", "migrate", cwd=base)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return found


# Run in Airflow's interpreter: the DAG as the scheduler's DagBag loads it, as JSON.
LOAD_DAG = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags[sys.argv[2]] if sys.argv[2] in bag.dags else None
print(json.dumps({
    "errors": {str(path): str(error) for path, error in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "max_active_runs": dag and dag.max_active_runs,
    "catchup": dag and dag.catchup,
    "tasks": dag and {
        task.task_id: {
            "operator": type(task).__name__,
            "upstream": sorted(task.upstream_task_ids),
            "retries": task.retries,
            "retry_delay": task.retry_delay.total_seconds(),
        }
        for task in dag.tasks
    },
}))
"""


@pytest.mark.slow
def test_the_dag_loads_with_its_tasks_and_retry_settings(airflow: Airflow, tmp_path: Path) -> None:
    env = {k: v for k, v in airflow.env.items() if k != "LAKEHOUSE_RETRY_DELAY_SECONDS"}
    python = str(airflow.bin / "python")
    loaded = airflow.run(python, "-c", LOAD_DAG, str(DAG_FOLDER), DAG_ID, cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stderr
    dag = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert dag["errors"] == {} and dag["dags"] == [DAG_ID]
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False
    each = {"operator": "PythonOperator", "retries": 3, "retry_delay": 300.0}
    assert dag["tasks"] == {
        "run_bronze": {**each, "upstream": []},
        "run_silver": {**each, "upstream": ["run_bronze"]},
        "run_gold": {**each, "upstream": ["run_silver"]},
    }


def fake_lakehouse(folder: Path) -> Path:
    """A `lakehouse` that records each call and answers "busy" (3) the first time; after that
    it is this checkout's command (with its own PYTHONPATH, which Airflow's process lacks)."""
    script = folder / "bin" / "lakehouse"
    script.parent.mkdir()
    calls, busy = folder / "calls", folder / "was-busy"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        f"if [ ! -e {busy} ]; then : > {busy}; echo 'busy: held by another run' >&2; exit 3; fi\n"
        f'PYTHONPATH={ROOT} exec {sys.executable} -m lakehouse "$@"\n'
    )
    script.chmod(0o755)
    return script.parent


@pytest.mark.slow
def test_dags_test_runs_every_layer_and_retries_only_when_busy(
    airflow: Airflow, tmp_path: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    paths = [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]
    sample = ["generate", "--customers", "30", "--readings-per-customer", "5", *paths]
    assert main(sample) == 0
    bin_folder = fake_lakehouse(tmp_path)
    env = airflow.env | {
        "PATH": f"{bin_folder}{os.pathsep}{airflow.env['PATH']}",
        "LAKEHOUSE_OVERRIDES": " ".join(paths),
    }

    ran = airflow.run(str(airflow.bin / "airflow"), "dags", "test", DAG_ID, cwd=tmp_path, env=env)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-5000:]
    calls = (tmp_path / "calls").read_text().splitlines()
    overrides = " ".join(paths)
    # bronze was busy once, then ran; each later layer once, in order.
    assert calls == [f"run {layer} {overrides}" for layer in ("bronze", "bronze", "silver", "gold")]
    assert all(count > 0 for count in layer_table_rows(warehouse).values())

    # A configuration error (exit 2), given as the run's conf: failed at once, never retried,
    # and the later layers never start.
    (tmp_path / "calls").unlink()
    conf = json.dumps({"overrides": [*paths, "run.lock_timeout_seconds=-1"]})
    airflow_bin = str(airflow.bin / "airflow")
    failed = airflow.run(airflow_bin, "dags", "test", DAG_ID, "-c", conf, cwd=tmp_path, env=env)
    assert failed.returncode != 0
    assert (tmp_path / "calls").read_text().splitlines() == [
        f"run bronze {overrides} run.lock_timeout_seconds=-1"
    ]
    assert "exited 2" in failed.stdout + failed.stderr

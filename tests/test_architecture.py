"""Dependencies run one way: application -> gold -> silver -> bronze -> framework.

The contract lives in pyproject.toml (`[tool.importlinter]`); `make lint` runs it too. Here it
runs with the suite, so CI enforces it, and a second check proves it can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("lakehouse", "bronze", "silver", "gold")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_packages_keep_the_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_framework_module_importing_a_layer_breaks_the_contract(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    storage = tmp_path / "lakehouse" / "core" / "storage.py"
    storage.write_text(storage.read_text() + "\nimport silver.tables  # noqa: E402, F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "lakehouse.core.storage -> silver.tables" in result.stdout

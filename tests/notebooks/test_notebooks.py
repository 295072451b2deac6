"""Every notebook runs top to bottom on the embedded engine with a sample warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture
def sample_conf(tmp_path: Path) -> Path:
    """The project's conf/ with storage=local pointing into an empty temporary folder."""
    folder = tmp_path
    conf = folder / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "storage" / "local.yaml").write_text(
        "# @package _global_\nstorage:\n  kind: local\n"
        f"paths:\n  landing: {folder / 'landing'}\n  warehouse: {folder / 'warehouse'}\n"
    )
    return conf


def test_there_are_three_notebooks_with_outputs_stripped() -> None:
    assert [p.stem for p in NOTEBOOKS] == ["01_explore", "02_ml_dataset", "03_time_travel_audit"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def executed(path: Path) -> nbformat.NotebookNode:
    """The notebook run top to bottom in a new kernel (CellExecutionError names a failing cell)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_again_and_again(path: Path, sample_conf: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LAKEHOUSE_CONF_DIR", str(sample_conf))
    executed(path)  # the first run builds the sample warehouse where the notebook keeps it
    notebook = executed(path)  # and a second one in the same checkout must work as well
    if path.stem == "03_time_travel_audit":
        # It withdraws and erases, so it works on a scratch warehouse, never the configured one.
        assert not (sample_conf.parent / "warehouse").exists()
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    if path.stem != "03_time_travel_audit":
        assert images, f"{path.name} drew no plot"

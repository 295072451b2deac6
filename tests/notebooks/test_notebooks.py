"""Every notebook runs top to bottom on the embedded engine with a sample warehouse."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lakehouse.app.generate import generate
from lakehouse.app.notebook import SAMPLE
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


FIGURE_TEXTS = """
import json, matplotlib.pyplot, matplotlib.text
print(json.dumps([
    text.get_text()
    for number in matplotlib.pyplot.get_fignums()
    for text in matplotlib.pyplot.figure(number).findobj(matplotlib.text.Text)
]))
"""


def sample_names() -> set[str]:
    """The customer names of the sample the notebooks build (the same seed every time)."""
    with tempfile.TemporaryDirectory() as folder:
        generate(Path(folder), SAMPLE)
        return {
            json.loads(line)["customerName"]
            for file in Path(folder, "customer").glob("*.json")
            for line in file.read_text().splitlines()
            if line.startswith("{") and "customerName" in line
        }


def executed(path: Path) -> nbformat.NotebookNode:
    """The notebook run top to bottom in a new kernel (CellExecutionError names a failing cell)."""
    notebook = nbformat.read(path, as_version=4)
    # Keep every figure open, then print the text drawn in them (titles, labels, legends,
    # ticks): a name in a figure is only pixels in the output otherwise.
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%config InlineBackend.close_figures = False"))
    notebook.cells.append(nbformat.v4.new_code_cell(FIGURE_TEXTS))
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
    shown = json.dumps([cell.get("outputs", []) for cell in notebook.cells]).lower()
    assert not [name for name in sample_names() if name.lower() in shown], "a name is shown"
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    if path.stem != "03_time_travel_audit":
        assert images, f"{path.name} drew no plot"

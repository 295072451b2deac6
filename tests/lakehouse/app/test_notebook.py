"""The notebooks' first cell: configuration from the project folder, the running session."""

from __future__ import annotations

from pathlib import Path

from lakehouse.app import notebook
from lakehouse.core.config import load_config
from tests.helpers import ROOT


def test_relative_paths_resolve_from_the_project_folder(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # a kernel started in notebooks/ or anywhere else
    config = notebook.notebook_config("paths.warehouse=data/wh")
    assert config.paths.warehouse == str(ROOT / "data" / "wh")
    assert config.paths.landing == str(ROOT / "data" / "landing")
    assert load_config(["paths.warehouse=data/wh"]).paths.warehouse == str(tmp_path / "data/wh")


def test_a_running_session_is_used_as_it_is(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    running = object()
    monkeypatch.setattr(notebook.SparkSession, "getActiveSession", lambda: running)
    assert notebook.notebook_session(load_config()) is running

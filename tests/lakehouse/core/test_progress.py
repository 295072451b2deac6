from __future__ import annotations

import io
import logging

import pytest

from lakehouse.core.context import TableResult
from lakehouse.core.progress import Progress, format_table, summary_rows


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_rewrites_each_tables_line() -> None:
    screen = Terminal()
    progress = Progress(2, screen)
    with progress.step("bronze.customer_landing"):
        pass
    with pytest.raises(RuntimeError), progress.step("silver.customer_trusted"):
        raise RuntimeError("boom")
    text = screen.getvalue()
    assert "[1/2] bronze.customer_landing ...\r[1/2] bronze.customer_landing done in" in text
    assert text.endswith("[2/2] silver.customer_trusted ... failed\n")


def test_progress_outside_a_terminal_logs_plain_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lakehouse")
    with Progress(1, io.StringIO()).step("gold.customer_curated"):
        pass
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        "[1/1] gold.customer_curated: started",
        "[1/1] gold.customer_curated: done",
    ]


def test_summary_adds_up_what_several_jobs_did_to_one_table() -> None:
    results = [
        TableResult("bronze.quarantine", 2, 2, 0, 0, 0, 1),
        TableResult("bronze.customer_landing", 9, 7, 0, 0, 2, 1),
        TableResult("bronze.quarantine", 3, 1, 0, 0, 0, 2),
    ]
    assert summary_rows(results) == [
        ("bronze.quarantine", 5, 3, 0, 0, 0, 2),
        ("bronze.customer_landing", 9, 7, 0, 0, 2, 1),
    ]


def test_a_table_shows_cells_that_do_not_print_escaped() -> None:
    name = "x\n2026-12-03 INFO run abc finished\x1b[2J.json"
    text = format_table(("file", "lines"), [(name, 2)])
    assert text.splitlines()[2] == "x\\n2026-12-03 INFO run abc finished\\x1b[2J.json      2"

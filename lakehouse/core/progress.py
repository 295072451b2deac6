"""Progress per table while a run works, and the summary table at its end."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TextIO

from lakehouse.core.context import TableResult
from lakehouse.core.interrupt import Interrupted
from lakehouse.core.printable import printable

log = logging.getLogger("lakehouse")


class Progress:
    """On a terminal: one line per table, rewritten when it is done. Otherwise: log lines."""

    def __init__(self, total: int, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        # Quiet: nothing on the terminal (log lines follow the log level).
        self.interactive = self.stream.isatty() and not quiet

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.done += 1
        label = f"[{self.done}/{self.total}] {name}"
        started = time.perf_counter()
        if self.interactive:
            self.stream.write(f"{label} ...")
            self.stream.flush()
        else:
            log.info("%s: started", label)
        try:
            yield
        except BaseException as error:
            if self.interactive:
                outcome = "interrupted" if isinstance(error, Interrupted) else "failed"
                self.stream.write(f" {outcome}\n")
            raise
        seconds = time.perf_counter() - started
        if self.interactive:
            self.stream.write(f"\r{label} done in {seconds:.1f}s\n")
            self.stream.flush()
        else:
            log.info("%s: done in %.1fs", label, seconds)

    def skip(self, name: str, why: str) -> None:
        self.done += 1
        label = f"[{self.done}/{self.total}] {name}"
        if self.interactive:
            self.stream.write(f"{label} skipped: {why}\n")
            self.stream.flush()
        else:
            log.info("%s: skipped: %s", label, why)


SUMMARY_COLUMNS = ("table", "read", "inserted", "updated", "deleted", "quarantined", "version")


def summary_rows(results: Sequence[TableResult]) -> list[tuple[object, ...]]:
    """One row per table, adding up what several jobs did to it (bronze.quarantine)."""
    totals: dict[str, list[object]] = {}
    for r in results:
        row = totals.setdefault(r.table, [r.table, 0, 0, 0, 0, 0, None])
        for i, value in enumerate((r.read, r.inserted, r.updated, r.deleted, r.quarantined), 1):
            row[i] = int(str(row[i])) + value
        row[6] = r.version
    return [tuple(row) for row in totals.values()]


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table, numbers right-aligned, text that does not print escaped."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(columns)), rule, *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return utc_moment(value)
    # Cells hold file names and raw text: a newline or an escape sequence would break the
    # table or drive the terminal.
    return "" if value is None else printable(value)


def utc_moment(moment: datetime) -> str:
    """`2026-11-23T01:02:03+00:00`: how every listing shows a moment (naive ones are UTC, the
    engine's session zone)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds")

"""Outside text as terminals and logs show it: what does not print is escaped, nothing else."""

from __future__ import annotations

import io
import logging

import pytest

from lakehouse.core.printable import PrintableFormatter, printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("customer-0001.json", "customer-0001.json"),
        ("é ü 日本 [a] {b} 'c' %20", "é ü 日本 [a] {b} 'c' %20"),
        (
            "x\n2026-12-03 INFO run abc finished\x1b[2J.json",
            "x\\n2026-12-03 INFO run abc finished\\x1b[2J.json",
        ),
        ("a\rb\tc\x00d\x7fe\x85f\x9bg", "a\\rb\\tc\\x00d\\x7fe\\x85f\\x9bg"),
        ("\u202eevil\u200b\u2028\u00a0", "\\u202eevil\\u200b\\u2028\\xa0"),
        ("bad\udcff.json", "bad\\xff.json"),  # a byte that is not UTF-8, as the OS gave it
        ("back\\slash", "back\\slash"),
    ],
)
def test_what_does_not_print_is_escaped_once(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # escaping again changes nothing


def test_log_lines_show_messages_escaped_and_keep_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PrintableFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.printable")
    log.addHandler(handler)
    try:
        log.warning("%s: skipped", "y\nINFO run abc finished\x1b[2J.txt")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "WARNING y\\nINFO run abc finished\\x1b[2J.txt: skipped"
    assert lines[1] == "ERROR failed" and lines[2].startswith("Traceback")

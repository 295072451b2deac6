"""Hostile entries in the landing zone, through a real `lakehouse` process (issue 29): a link
loop or a name that is not UTF-8 is skipped and named, never the end of the run; a name or a
line holding a newline or an escape sequence reaches no terminal or log raw."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

# A newline that starts a forged log line, and an escape sequence that clears the screen.
FORGED = "2026-12-03 INFO run abc finished"
HOSTILE = f"\n{FORGED}\x1b[2J"


def lakehouse(root: Path, *args: str) -> str:
    """Run the command line in its own process on `root`'s landing zone and warehouse; assert
    it succeeded and return everything it wrote (stdout, then stderr)."""
    paths = [f"paths.landing={root / 'landing'}", f"paths.warehouse={root / 'wh'}"]
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse", *args, *paths],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    output = (done.stdout + done.stderr).decode("utf-8", "backslashreplace")
    assert done.returncode == 0 and "Traceback" not in output, output
    return output


def generated(root: Path) -> Path:
    lakehouse(root, "generate", "--customers", "6", "--readings-per-customer", "2")
    return root / "landing"


def test_a_link_loop_and_a_name_not_utf8_are_skipped_and_named(tmp_path: Path) -> None:
    customers = generated(tmp_path) / "customer"
    (customers / "loop.json").symlink_to("loop.json")
    (customers / "via.json").symlink_to("loop.json")
    (Path(os.fsdecode(os.fsencode(customers) + b"/bad\xff.json"))).write_text('{"email": 1}\n')

    output = lakehouse(tmp_path, "run")

    for name in ("loop.json", "via.json"):
        assert f"{customers / name}: skipped, a link that never reaches a file" in output
    assert f"{customers}/bad\\xff.json: skipped, a name that is not valid UTF-8" in output
    assert "bad\\\\xff.json: skipped" in lakehouse(tmp_path, "run", "--format", "json")
    lakehouse(tmp_path, "status")


def shows_nothing_raw(output: str) -> None:
    assert "\x1b" not in output, output
    assert not re.search(f"^{FORGED}", output, re.MULTILINE), output


def test_names_and_text_from_landing_files_reach_no_terminal_raw(tmp_path: Path) -> None:
    landing = generated(tmp_path)
    # Read (a good and a bad line, quarantined under its name) and the newest file (status).
    reading = '{"user": "a@x.com", "timestamp": 1, "x": 1, "y": 1, "z": 1}'
    (landing / "accelerometer" / f"x{HOSTILE}.json").write_text(f"{reading}\nbad{HOSTILE}\n")
    # Skipped: named in the run's notes and in its log.
    (landing / "customer" / f"y{HOSTILE}.txt").write_text("{}\n")
    shown = f"\\n{FORGED}\\x1b[2J"

    output = lakehouse(tmp_path, "run")
    shows_nothing_raw(output)
    assert f"y{shown}.txt: skipped, not a .json" in output

    output = lakehouse(tmp_path, "quarantine")
    shows_nothing_raw(output)
    assert f"x{shown}.json" in output

    output = lakehouse(tmp_path, "status")
    shows_nothing_raw(output)
    assert f"x{shown}.json" in output

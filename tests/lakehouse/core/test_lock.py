"""The warehouse lock: one run at a time, a clear message, never stale after a crash."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.core.lock import LOCK_FILE, WarehouseBusy, warehouse_lock

HOLD_AND_SLEEP = """
import sys, time
from lakehouse.core.lock import warehouse_lock
with warehouse_lock(sys.argv[1], "run-in-child", 0):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_waits_then_fails_naming_the_first(tmp_path: Path) -> None:
    with warehouse_lock(str(tmp_path), "run-1", 0):
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusy, match="run_id run-1") as busy,
            warehouse_lock(str(tmp_path), "run-2", 0.5),
        ):
            pass
        assert time.monotonic() - started >= 0.5
        assert "lock_timeout_seconds" in str(busy.value)
    with warehouse_lock(str(tmp_path), "run-3", 0):
        assert "run-3" in (tmp_path / LOCK_FILE).read_text()
    assert (tmp_path / LOCK_FILE).read_text() == ""


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_SLEEP, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseBusy), warehouse_lock(str(tmp_path), "run-2", 0):
            pass
        child.kill()
        child.wait(timeout=10)
        with warehouse_lock(str(tmp_path), "run-2", 2):
            pass
    finally:
        child.kill()

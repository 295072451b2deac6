"""A read-only warehouse and a full disk: one line and a documented exit code, no traceback.

Tests run as root, which ignores file permissions, so `chmod` proves nothing here. Where this
process may mount (root with CAP_SYS_ADMIN, as in the project's container), the faults are
real: a read-only bind mount of a built warehouse, and a tmpfs filled to its last kilobytes.
Elsewhere those tests skip, and the in-process ones still raise the operating system's own
error (EROFS, ENOSPC) at the first write of a run, the warehouse lock.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lakehouse.app.cli import main
from tests.helpers import customer

Capture = pytest.CaptureFixture[str]


def overrides(landing: Path, warehouse: Path) -> list[str]:
    return [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built")
    paths = overrides(root / "landing", root / "wh")
    assert main(["generate", "--customers", "6", "--readings-per-customer", "3", *paths]) == 0
    assert main(["run", *paths]) == 0
    return root


def deliver_one(landing: Path) -> None:
    """A new file in the landing zone: the next run has something to write."""
    record = customer("late@example.com", 9, 1)
    (landing / "customer" / "late.json").write_text(json.dumps(record) + "\n")


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount here ({done.stderr.strip()})")


@contextmanager
def mounted(target: Path, *args: str) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    mount(*args, str(target))
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def one_error_line(capsys: Capture) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_a_read_only_warehouse_is_one_line_and_exit_2(
    built: Path, tmp_path: Path, capsys: Capture
) -> None:
    shutil.copytree(built, tmp_path / "site")
    site = tmp_path / "site"
    deliver_one(site / "landing")
    with mounted(tmp_path / "ro", "--bind", str(site / "wh")) as read_only:
        mount("-o", "remount,ro,bind", str(read_only))
        capsys.readouterr()
        paths = overrides(site / "landing", read_only)
        for command in (["run"], ["sql", "DELETE FROM gold.customer_curated", "--allow-writes"]):
            assert main([*command, *paths]) == 2, command
            line = one_error_line(capsys)
            assert line.startswith(f"error: cannot write to {read_only}"), line
            assert "read-only" in line
        # Reading still works there.
        assert main(["sql", "SELECT count(*) FROM gold.customer_curated", *paths]) == 0


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_exit_1(built: Path, tmp_path: Path, capsys: Capture) -> None:
    with mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=8m", "tmpfs") as small:
        shutil.copytree(built / "wh", small / "wh")
        landing = tmp_path / "landing"
        shutil.copytree(built / "landing", landing)
        deliver_one(landing)
        free = shutil.disk_usage(small).free
        (small / "filler").write_bytes(b"\0" * max(free - 4096, 0))
        capsys.readouterr()
        assert main(["run", *overrides(landing, small / "wh")]) == 1
        line = one_error_line(capsys)
        assert line.startswith("error: cannot write to") and "the disk is full" in line, line


@pytest.mark.parametrize(
    ("code", "exit_code", "says"),
    [(errno.EROFS, 2, "read-only"), (errno.ENOSPC, 1, "the disk is full")],
)
def test_the_operating_systems_fault_at_the_first_write(
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    exit_code: int,
    says: str,
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "wh"
    (landing / "customer").mkdir(parents=True)
    (landing / "customer" / "one.json").write_text(json.dumps(customer("a@example.com", 1, 1)))

    @contextmanager
    def refused(warehouse: str, *_: object) -> Iterator[None]:
        raise OSError(code, errno.errorcode[code], f"{warehouse}/_lakehouse.lock")
        yield

    monkeypatch.setattr("lakehouse.app.pipeline.warehouse_lock", refused)
    assert main(["run", *overrides(landing, warehouse)]) == exit_code
    line = one_error_line(capsys)
    assert line.startswith(f"error: cannot write to {warehouse}/_lakehouse.lock") and says in line

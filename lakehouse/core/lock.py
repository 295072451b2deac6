"""One writer at a time per warehouse.

Runs take an exclusive lock on `<warehouse>/_lakehouse.lock` for their whole duration. It is
an OS file lock (`flock`), so it dies with its process: a killed run never leaves a stale
lock behind. A second run waits up to `run.lock_timeout_seconds`, then fails with
`WarehouseBusy` naming the holder. Delta's own optimistic concurrency still guards against
writers that bypass the lock (a notebook, another tool): their conflicting commit fails.

A warehouse in S3 has no file locks; there the lock is a lease object (`lakehouse.core.lease`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from lakehouse.core.storage import is_s3, join

log = logging.getLogger(__name__)

LOCK_FILE = "_lakehouse.lock"
_POLL_SECONDS = 0.2


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse lock."""


@contextmanager
def warehouse_lock(
    warehouse: str, run_id: str, timeout_seconds: float, lease_seconds: float = 60.0
) -> Iterator[None]:
    if is_s3(warehouse):
        # Imported here: the lease needs boto3 (the aws extra), a local warehouse does not.
        from lakehouse.core.lease import LeaseHeld, s3_lease

        try:
            with s3_lease(
                join(warehouse, LOCK_FILE), _holder_of(run_id), timeout_seconds, lease_seconds
            ):
                yield
        except LeaseHeld as error:
            raise _busy(warehouse, str(error), timeout_seconds) from None
        return
    with _file_lock(Path(warehouse, LOCK_FILE), run_id, timeout_seconds):
        yield


@contextmanager
def _file_lock(path: Path, run_id: str, timeout_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + max(timeout_seconds, 0)
        if not _try_lock(handle) and timeout_seconds > 0:
            log.info(
                "waiting up to %gs for the warehouse lock (%s)", timeout_seconds, _holder(path)
            )
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                raise _busy(str(path.parent), _holder(path), timeout_seconds)
            time.sleep(_POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(_holder_of(run_id)))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder_of(run_id: str) -> dict[str, object]:
    return {
        "run_id": run_id,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _busy(warehouse: str, holder: str, timeout_seconds: float) -> WarehouseBusy:
    return WarehouseBusy(
        f"the warehouse {warehouse} is in use by another run ({holder}); "
        f"waited {timeout_seconds:g}s. Try again later or raise run.lock_timeout_seconds"
    )


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    if not holder:
        return "holder unknown"
    return ", ".join(f"{key} {value}" for key, value in holder.items())

"""A warehouse that cannot be written: a read-only file system, a full disk, no permission.

These are facts about the machine, not failures of the lakehouse: the user gets one line
saying which and what to do, never a traceback. They surface two ways: as Python's `OSError`
(the lock file, the secret, the run log written through deltalake) and as the engine's error
text (Sail writes data files itself and reports "No space left on device (os error 28)").
Delta commits are whole, so whatever the fault cut short left each table at its last complete
version; a read-only file system is met at the first write, before anything was written.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

# The engine's message for each fault (Rust's io::Error text and its os error number).
_ENGINE_TEXT = {
    errno.EROFS: ("read-only file system", "(os error 30)"),
    errno.ENOSPC: ("no space left on device", "(os error 28)"),
    errno.EDQUOT: ("disk quota exceeded", "(os error 122)"),
    errno.EACCES: ("permission denied (os error 13)",),
}
_CHAIN_DEPTH = 8


@dataclass(frozen=True)
class StorageFault:
    """What cannot be written, and whether nothing was (a read-only file system)."""

    message: str
    nothing_written: bool


def storage_fault(error: BaseException, warehouse: str) -> StorageFault | None:
    """The fault behind `error` (or an exception it was raised from), or None."""
    seen: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return None
        code, where = _fault_code(seen)
        if code is not None:
            # The engine's text names no file, and it also writes spill and scratch files.
            return _described(code, where or f"{warehouse} (or the engine's scratch space)")
        seen = seen.__cause__ or seen.__context__
    return None


def _fault_code(error: BaseException) -> tuple[int | None, str | None]:
    if isinstance(error, OSError) and error.errno in _ENGINE_TEXT:
        return error.errno, str(error.filename) if error.filename else None
    text = str(error).lower()
    for code, marks in _ENGINE_TEXT.items():
        if any(mark in text for mark in marks):
            return code, None
    return None, None


def _described(code: int, where: str) -> StorageFault:
    if code == errno.EROFS:
        return StorageFault(
            f"cannot write to {where}: the file system is read-only. Point paths.warehouse "
            "at a writable folder; the commands that only read (sql, tables, history, ...) "
            "work on this one",
            nothing_written=True,
        )
    if code in (errno.ENOSPC, errno.EDQUOT):
        full = "full" if code == errno.ENOSPC else "over its quota"
        return StorageFault(
            f"cannot write to {where}: the disk is {full}. Every table keeps its last "
            "complete version (Delta commits are whole); free space, then run the command again",
            nothing_written=False,
        )
    return StorageFault(
        f"cannot use {where}: permission denied. Run as a user who may read and write "
        "there, or point paths.warehouse elsewhere",
        nothing_written=False,
    )

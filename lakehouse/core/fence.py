"""Fencing: a run that no longer holds the warehouse writes nothing more.

A lock that expires (the S3 lease) can pass to another run while its holder still lives: a
process paused (SIGSTOP, a frozen VM) or cut off from storage past `run.lease_seconds`. Were
the first run to go on, two writers would MERGE into the same tables and duplicate rows. So
every commit calls `check()` first, at the same place as its `before:<table>` fault point; the
lock held registers how to confirm it (`holding`), and a run that cannot confirm it stops
with `LeaseLost` before the write. A local warehouse's OS lock cannot be lost: nothing is
registered there and `check()` costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

# The locks this process holds: how each confirms it is still held (raising `LeaseLost` if
# not), and whether it is known to be lost already (no round trip).
_held: list[tuple[Callable[[], None], Callable[[], bool]]] = []


class LeaseLost(RuntimeError):
    """Another run took the warehouse over: this run stopped before its next write."""


@contextmanager
def holding(confirm: Callable[[], None], known_lost: Callable[[], bool]) -> Iterator[None]:
    """Within the block, `check()` calls `confirm` (which raises `LeaseLost` if the lock is
    no longer held) and `lost()` asks `known_lost`."""
    entry = (confirm, known_lost)
    _held.append(entry)
    try:
        yield
    finally:
        _held.remove(entry)


def check() -> None:
    """Raise `LeaseLost` unless this process still holds the warehouse (call before a commit)."""
    for confirm, _ in list(_held):
        confirm()


def lost() -> bool:
    """Whether a lock this process held is known to be another run's now: its cleanup (scratch
    space, the run log) must then leave the warehouse alone, as the new holder uses it."""
    return any(known_lost() for _, known_lost in list(_held))

"""Ctrl-C (SIGINT) and SIGTERM: stop a command within seconds, and leave the warehouse usable.

The CLI runs each command through `interruptible`. While it runs, the first SIGINT or SIGTERM
raises `Interrupted` in the main thread, wherever it is (a query, a commit point, a lock wait),
so the command unwinds through its own cleanup: the operation cancels its queries on the engine
and records the run as interrupted, the warehouse lock or lease is released, scratch copies are
removed, the engine stops. `interruptible` then prints one line and returns 128 + the signal
number (130 for SIGINT, 143 for SIGTERM).

Two promises do not depend on the main thread getting anywhere, because it may be stuck inside
native code (the engine, deltalake) where Python cannot raise: a watcher thread woken by the
signal itself (`signal.set_wakeup_fd`) ends the process at once on a second signal, and after
`GRACE_SECONDS` if the cleanup has not finished by then. Ended that way the process still drops
its file lock (the OS releases it) and, first, runs the quick releases registered with
`released_on_forced_exit` (the S3 lease deletes its object), each given a few seconds; the next
run marks the run interrupted in the run log.

Nothing here runs at import: handlers are installed by `interruptible` and removed when it ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long the cleanup may take after the first signal before the process ends without it.
GRACE_SECONDS = 10.0
# How long a forced exit waits for the quick releases (an S3 delete) before ending anyway.
RELEASE_SECONDS = 3.0


class Interrupted(BaseException):
    """A SIGINT or SIGTERM arrived. A BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        # Filled in by the operation that was running, for the message the user sees.
        self.command = "run"
        self.run_id: str | None = None
        self.recorded = False
        # What was stopped when no operation was running (a watcher waiting between runs).
        self.idle: str | None = None
        super().__init__(self.name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        if self.run_id is None:
            return f"interrupted: {self.name}; {self.idle or 'stopped before finishing'}"
        recorded = "recorded as interrupted" if self.recorded else "the next run records it"
        return (
            f"interrupted: {self.name}; {self.command} {self.run_id} stopped ({recorded}) and the "
            "warehouse is released; running the command again completes the work"
        )


@dataclass
class _Handling:
    grace_seconds: float
    previous: dict[int, object] = field(default_factory=dict)
    previous_wakeup_fd: int = -1
    previous_excepthook: Callable[[threading.ExceptHookArgs], object] | None = None
    read_fd: int = -1
    write_fd: int = -1
    first: int | None = None
    deadline: threading.Timer | None = None


_active: _Handling | None = None
# The first signal the current (or last) `interruptible` command received.
_last_signal: int | None = None
# Releases a forced exit still makes, newest first (see `released_on_forced_exit`).
_forced_exit_releases: list[Callable[[], None]] = []


def interruptible(command: Callable[[], int], grace_seconds: float = GRACE_SECONDS) -> int:
    """Run `command` with SIGINT and SIGTERM turned into `Interrupted`; return its exit status.

    Interrupted, it prints one line on stderr and returns 128 + the signal number. Nested calls,
    and calls outside the main thread (where Python cannot install handlers), just run `command`.
    """
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        return command()
    _active = handling = _Handling(grace_seconds)
    _install(handling)
    try:
        return command()
    except Interrupted as interruption:
        with suppress(OSError):  # stderr may be gone with the terminal that sent the signal
            print(interruption.message(), file=sys.stderr)
        return interruption.exit_code
    finally:
        _uninstall(handling)
        _active = None


@contextmanager
def released_on_forced_exit(release: Callable[[], None]) -> Iterator[None]:
    """Within the block, a forced exit (grace over, or a second signal) calls `release` first.

    For what must not outlive the process yet cannot rely on the OS: an S3 lease would
    otherwise block every other run for `run.lease_seconds`. `release` must be quick and
    safe to call twice (the block's own cleanup may have run it already).
    """
    _forced_exit_releases.append(release)
    try:
        yield
    finally:
        _forced_exit_releases.remove(release)


def was_interrupted() -> bool:
    """Whether the command now running (or the last one) received SIGINT or SIGTERM."""
    return _last_signal is not None


def reclaim_signal_handlers() -> None:
    """Put this module's handlers back in front of handlers native code installed since.

    The embedded Sail server installs its own SIGINT handler (tokio's `ctrl_c`) once it runs,
    and on Ctrl-C shuts itself down under the client, which then retries for minutes. Called
    after the server is up, this keeps SIGINT ours: the command cancels its queries and stops
    the server itself. Outside `interruptible` it does nothing.
    """
    if _active is not None and threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, _raise)


def _install(handling: _Handling) -> None:
    global _last_signal
    _last_signal = None
    handling.read_fd, handling.write_fd = os.pipe()
    os.set_blocking(handling.write_fd, False)
    handling.previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, _raise)
    handling.previous_wakeup_fd = signal.set_wakeup_fd(handling.write_fd)
    handling.previous_excepthook = threading.excepthook
    threading.excepthook = _quiet_after_interrupt
    threading.Thread(target=_watch, args=(handling,), name="interrupt-watcher", daemon=True).start()


def _uninstall(handling: _Handling) -> None:
    signal.set_wakeup_fd(handling.previous_wakeup_fd)
    if handling.previous_excepthook is not None:
        threading.excepthook = handling.previous_excepthook
    for signum, previous in handling.previous.items():
        signal.signal(signum, previous)  # type: ignore[arg-type]
    if handling.deadline is not None:
        handling.deadline.cancel()
    os.close(handling.write_fd)  # the watcher reads end-of-file and ends


def _quiet_after_interrupt(args: threading.ExceptHookArgs) -> None:
    """No traceback from a library thread that dies while an interrupted command tears down.

    gRPC's channel thread can fail that way when the engine's client closes under a call
    the interruption abandoned; the command's own one-line report says what happened.
    """
    if _last_signal is not None:
        return
    previous = _active.previous_excepthook if _active is not None else None
    (previous or threading.__excepthook__)(args)


def _raise(signum: int, frame: FrameType | None) -> None:
    global _last_signal
    if _last_signal is not None:
        return  # a second signal: the watcher thread ends the process
    _last_signal = signum
    raise Interrupted(signum)


def _watch(handling: _Handling) -> None:
    """Woken by every signal the process receives while the handlers are installed."""
    with os.fdopen(handling.read_fd, "rb", buffering=0) as wakeups:
        while received := wakeups.read(16):
            for signum in received:
                if signum in SIGNALS:
                    _on_signal(handling, signum)


def _on_signal(handling: _Handling, signum: int) -> None:
    if handling.first is None:
        handling.first = signum
        name = signal.Signals(signum).name
        handling.deadline = threading.Timer(
            handling.grace_seconds,
            _exit_now,
            (
                128 + signum,
                f"{name}; cleanup took over {handling.grace_seconds:g}s, exiting without it",
            ),
        )
        handling.deadline.daemon = True
        handling.deadline.start()
        return
    _exit_now(128 + signum, f"{signal.Signals(signum).name} again, exiting at once")


def _exit_now(code: int, why: str) -> None:
    message = (
        f"interrupted: {why} (the warehouse lock or lease is released; the next run marks "
        "this run interrupted)\n"
    )
    try:
        _run_releases()
        os.write(2, message.encode())
    finally:
        os._exit(code)


def _run_releases() -> None:
    """Every registered release, in a thread, so a store that hangs cannot hold up the exit."""

    def release_all() -> None:
        for release in reversed(list(_forced_exit_releases)):
            with suppress(Exception):
                release()

    releasing = threading.Thread(target=release_all, name="forced-exit-release", daemon=True)
    releasing.start()
    releasing.join(timeout=RELEASE_SECONDS)

"""`lakehouse run --watch`: an incremental run each time files land, until Ctrl-C or SIGTERM.

Every run is the call a scheduled `lakehouse run` makes (`run`, given by the CLI), on one
engine session opened once, since starting the engine costs seconds: the same warehouse lock,
run log, rules and crash recovery. The watcher runs once at start (what already waits), then
after each settled change of the landing zone:
- a local landing zone sends change notifications (`watchfiles`: inotify and its kin), read by
  a thread into a queue, so a change that arrives during a run brings one more run after it;
- S3 sends none a command can receive, so its source folders are listed every
  `run.watch_poll_seconds`.
A change counts when it adds or changes a `.json`/`.json.gz` file directly in a source folder
whose name does not start with `.` (a temporary file, renamed into place when written). It has
settled once every changed file kept its size and time for `run.watch_settle_seconds`, so a
file still being written is not read half.

After a run: a failure (rules, a store that stopped answering, a lost lease) is reported and
the watcher waits for the next change; a busy warehouse (another process holds it past
`run.lock_timeout_seconds`) is tried again after `run.watch_poll_seconds`; a configuration
error, or anything unexpected, ends the watcher as it ends `lakehouse run`. Ctrl-C or SIGTERM
during a run interrupts it exactly as it interrupts `lakehouse run`; between runs the watcher
just stops (130 / 143), with nothing written.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import NoReturn, Protocol

from pyspark.sql import SparkSession
from watchfiles import Change
from watchfiles import watch as notifications

from bronze.tables import SOURCES
from lakehouse.app.errors import RunFailed
from lakehouse.core.aws import prepared_environment
from lakehouse.core.config import Config, ConfigError, require_landing, storage_errors
from lakehouse.core.engine import brief, open_session
from lakehouse.core.errors import UsageError
from lakehouse.core.fence import LeaseLost
from lakehouse.core.interrupt import Interrupted
from lakehouse.core.landing import SUFFIXES
from lakehouse.core.lock import WarehouseBusy
from lakehouse.core.printable import printable
from lakehouse.core.storage import is_s3, join, list_entries

log = logging.getLogger("lakehouse")

# What tells a settled file from one still being written: size, modification time (ns) and,
# on S3, the ETag. None: the file is gone (a temporary name renamed away).
Signature = tuple[int, int, str | None] | None

# watchfiles groups the events of a burst: it hands them over once none came for STEP_MS, or
# DEBOUNCE_MS after the first. Its thread wakes every TICK_MS without events: the first wake
# says it is watching, the later ones that it should stop.
STEP_MS, DEBOUNCE_MS, TICK_MS = 50, 400, 1000
IDLE = "the watcher stopped between runs: nothing was running, nothing was written"


def check_options(target: str | None, ingests: bool, *, full_refresh: bool, rekey: bool) -> None:
    """Refuse what a watcher cannot mean: a rebuild on every delivery, or a target no landed
    file can change."""
    if full_refresh or rekey:
        option = "--full-refresh" if full_refresh else "--rekey"
        raise UsageError(
            f"--watch runs an incremental run for each delivery and takes no {option}: run "
            f"`lakehouse run {option}` once, then `lakehouse run --watch`"
        )
    if not ingests:
        raise UsageError(
            f"--watch {target}: it does not include bronze, so no landed file could change "
            "it; watch all (no target) or a target with bronze (+gold.machine_learning_curated)"
        )


def watch(config: Config, run: Callable[[SparkSession], int]) -> NoReturn:
    """Call `run` (one `lakehouse run`, reported; its exit status) now and after each settled
    change of the landing zone, forever: only an exception (a configuration error, Ctrl-C,
    SIGTERM) ends it."""
    run_settings = config.run
    # The landing zone is watched before the engine starts, and so before the first run
    # lists it: whatever lands after that listing is seen.
    with (
        prepared_environment(config),  # S3 settings for the listings, as the engine has them
        changes_of(config) as landing,
        open_session(config) as spark,
    ):
        done = _attempt(lambda: run(spark), run_settings.watch_poll_seconds)
        log.info(
            "watching %s: a run follows each new file once it has kept its size for %gs; "
            "Ctrl-C or SIGTERM stops",
            printable(config.paths.landing),
            run_settings.watch_settle_seconds,
        )
        while True:
            try:
                changed = landing.wait(run_settings.watch_poll_seconds)
                if changed:
                    changed = settled(landing, changed, run_settings.watch_settle_seconds)
            except Interrupted as interruption:
                interruption.idle = IDLE
                raise
            if changed:
                first = printable(min(changed))
                more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
                log.info("landed: %s%s", first, more)
            elif done:
                continue
            done = _attempt(lambda: run(spark), run_settings.watch_poll_seconds)
            if done:
                log.info("watching for new files")


def _attempt(run: Callable[[], int], poll_seconds: float) -> bool:
    """One run; False when the warehouse was busy and it should be tried again."""
    try:
        if run():
            log.warning("the run failed (above); the next delivery runs again")
    except WarehouseBusy as error:
        print(f"busy: {printable(error)}", file=sys.stderr)
        log.info("trying again in %gs (or at the next change)", poll_seconds)
        return False
    except (RunFailed, LeaseLost) as error:
        # What `lakehouse run` reports with exit 1; the next delivery completes the work.
        print(f"error: {error}", file=sys.stderr)
    finally:
        # One summary per run as it ends, even into a pipe (`--format json | ...`).
        sys.stdout.flush()
    return True


class Landing(Protocol):
    """Where changes come from."""

    def wait(self, seconds: float) -> set[str]:
        """The files changed since the last call (waiting up to `seconds` for one)."""
        ...

    def signatures(self, paths: set[str]) -> dict[str, Signature]:
        """Each file's signature now."""
        ...


def settled(landing: Landing, changed: set[str], seconds: float) -> set[str]:
    """Wait until every changed file has kept its size and time for `seconds`; changes that
    arrive meanwhile join them. The files still there."""
    changed = set(changed)
    seen = landing.signatures(changed)
    while seconds > 0:
        time.sleep(seconds)
        more = landing.wait(0)
        changed |= more
        now = landing.signatures(changed)
        if not more and now == seen:
            break
        seen = now
    return {path for path, signature in seen.items() if signature is not None}


def triggers(path: str, landing: str) -> bool:
    """Whether a change to `path` can give a run something to read: a `.json` or `.json.gz`
    file directly in a source folder, not a temporary one (a name starting with `.`)."""
    prefix = landing.rstrip("/") + "/"
    if not path.startswith(prefix):
        return False
    source, _, name = path[len(prefix) :].partition("/")
    return (
        source in SOURCES
        and bool(name)
        and "/" not in name
        and not name.startswith(".")
        and name.endswith(SUFFIXES)
    )


@contextmanager
def changes_of(config: Config) -> Iterator[Landing]:
    # A missing landing zone or an unreachable bucket: exit 2, before the engine starts.
    landing = require_landing(config, SOURCES)
    if is_s3(landing):
        yield PolledLanding(landing)
        return
    with LocalLanding(landing).watching() as local:
        yield local


class LocalLanding:
    """A local landing zone: watchfiles' notifications, gathered by a thread into a queue."""

    def __init__(self, landing: str) -> None:
        self.landing = landing
        self._queue: queue.Queue[set[str] | Exception] = queue.Queue()
        self._ready = threading.Event()
        self._stop = threading.Event()

    @contextmanager
    def watching(self) -> Iterator[LocalLanding]:
        thread = threading.Thread(target=self._gather, name="landing-watch", daemon=True)
        thread.start()
        try:
            # Short waits: Ctrl-C is honoured between them.
            while not self._ready.wait(0.1):
                pass
            self._raise_failure()
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=2 * STEP_MS / 1000 + 1)

    def _gather(self) -> None:
        try:
            for found in notifications(
                self.landing,
                watch_filter=self._counts,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                rust_timeout=TICK_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                self._ready.set()
                if found:
                    self._queue.put({path for _, path in found})
        except Exception as error:  # the folder vanished, too many watches: told to the caller
            self._queue.put(error)
        finally:
            self._ready.set()

    def _counts(self, change: Change, path: str) -> bool:
        return change != Change.deleted and triggers(path, self.landing)

    def wait(self, seconds: float) -> set[str]:
        changed: set[str] = set()
        with suppress(queue.Empty):
            item = self._queue.get(timeout=seconds) if seconds > 0 else self._queue.get_nowait()
            while True:  # everything queued: one run for all of it
                if isinstance(item, Exception):
                    raise WatchFailed(f"cannot watch {self.landing}: {brief(item)}") from item
                changed |= item
                item = self._queue.get_nowait()
        return changed

    def _raise_failure(self) -> None:
        with suppress(queue.Empty):
            item = self._queue.get_nowait()
            if isinstance(item, Exception):
                raise WatchFailed(f"cannot watch {self.landing}: {brief(item)}") from item
            self._queue.put(item)

    def signatures(self, paths: set[str]) -> dict[str, Signature]:
        found: dict[str, Signature] = {}
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                found[path] = None
            else:
                found[path] = (stat.st_size, stat.st_mtime_ns, None)
        return found


class WatchFailed(ConfigError):
    """The notifications stopped (the landing folder removed, the system's watch limit)."""


class PolledLanding:
    """An S3 landing zone: its source folders listed every `wait`."""

    def __init__(self, landing: str) -> None:
        self.landing = landing
        # Listed before the first run: what lands after this is a change.
        self._seen = self._listing()

    def _listing(self) -> dict[str, Signature]:
        return {
            entry.path: (entry.size, entry.modified_ns, entry.etag)
            for source in SOURCES
            for entry in list_entries(join(self.landing, source))
            if entry.kind == "file" and triggers(entry.path, self.landing)
        }

    def wait(self, seconds: float) -> set[str]:
        time.sleep(seconds)
        try:
            now = self._listing()
        except storage_errors() as error:
            # A passing outage: the next listing tells. A lasting one fails the next run.
            log.warning("cannot list %s: %s", printable(self.landing), brief(error))
            return set()
        changed = {path for path, signature in now.items() if self._seen.get(path) != signature}
        self._seen = now
        return changed

    def signatures(self, paths: set[str]) -> dict[str, Signature]:
        now = self._listing()
        return {path: now.get(path) for path in paths}

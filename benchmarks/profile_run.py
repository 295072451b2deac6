"""Count and time the engine requests of one lakehouse command, by the code that made them.

    python -m benchmarks.profile_run run paths.landing=... paths.warehouse=...
    python -m benchmarks.profile_run --each run ...     # also every request over 50 ms, live

Runs the CLI in this process with the Spark Connect client's request methods wrapped: each
outermost request (a statement, an action, an analysis) is timed and attributed to the
innermost frames of this project's code that made it. Prints the totals by caller, and the
commits the command wrote to each table. For a profile, not a benchmark: the wrapping costs a
little per request.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql.connect.client import core

from benchmarks.bench import new_commits, table_versions

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = ("_analyze", "_execute_and_fetch", "_execute_and_fetch_as_iterator", "execute_command")


@dataclass(frozen=True)
class Request:
    method: str
    seconds: float
    callers: tuple[str, ...]  # innermost first


class Recorder:
    """Wraps the client's request methods; nested calls count once, as the outermost."""

    def __init__(self, depth: int, live: bool) -> None:
        self.requests: list[Request] = []
        self.depth, self.live, self._nesting = depth, live, 0

    def install(self) -> None:
        for name in REQUESTS:
            setattr(
                core.SparkConnectClient,
                name,
                self._wrap(name, getattr(core.SparkConnectClient, name)),
            )

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(client: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            self._nesting += 1
            try:
                return method(client, *args, **kwargs)
            finally:
                self._nesting -= 1
                if self._nesting == 0:
                    self._record(name, time.perf_counter() - started)

        return timed

    def _record(self, name: str, seconds: float) -> None:
        ours = [
            frame
            for frame in traceback.extract_stack()[:-3]
            if frame.filename.startswith(str(ROOT))
            and not any(part in frame.filename for part in ("/benchmarks/", "/.venv/"))
        ]
        callers = tuple(
            f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}" for f in reversed(ours)
        )
        self.requests.append(Request(name, seconds, callers))
        if self.live and seconds > 0.05:
            print(f"    {seconds:6.3f} s  {' < '.join(callers[: self.depth])}", file=sys.stderr)

    def report(self) -> str:
        total = sum(r.seconds for r in self.requests)
        lines = [f"{len(self.requests)} engine requests, {total:.2f} s in all"]
        by_caller: dict[str, list[float]] = collections.defaultdict(list)
        for request in self.requests:
            by_caller[" < ".join(request.callers[: self.depth])].append(request.seconds)
        for caller, times in sorted(by_caller.items(), key=lambda item: -sum(item[1])):
            lines.append(f"{sum(times):7.2f} s {len(times):4d}x  {caller}")
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=2, help="caller frames to group by")
    parser.add_argument("--each", action="store_true", help="print slow requests as they end")
    args, command = parser.parse_known_args()
    recorder = Recorder(args.depth, args.each)
    recorder.install()
    from lakehouse.app.cli import main as cli_main
    from lakehouse.core.config import load_config

    warehouse = Path(load_config([c for c in command if "=" in c]).paths.warehouse)
    before = table_versions(warehouse)
    started = time.perf_counter()
    code = cli_main(command)
    wall = time.perf_counter() - started
    after = table_versions(warehouse)
    changed = {n: v - before.get(n, -1) for n, v in after.items() if v != before.get(n)}
    print(f"\n{' '.join(command[:1])}: {wall:.2f} s in this process", file=sys.stderr)
    print(recorder.report(), file=sys.stderr)
    print(f"commits: {new_commits(before, after)} ({changed})", file=sys.stderr)
    sys.stderr.flush()
    os._exit(code)  # see `lakehouse.__main__`: no waiting on library threads at exit


if __name__ == "__main__":
    sys.exit(main())

"""Fault injection for crash and concurrency tests: stop or stall a run at a named point.

Every commit passes a fault point before and after it (`before:silver.customer_trusted`,
`after:silver.customer_trusted`, ...; a table written in two commits also passes
`between:<table>`); they have nothing to do with Delta's log checkpoints. Setting
`LAKEHOUSE_FAULT` to a point's name (shell-style wildcards allowed) acts there, as chosen by
`LAKEHOUSE_FAULT_ACTION`:
- `kill` (default): SIGKILL the process, as a crash or an OOM kill would;
- `raise`: raise `InjectedFault`, so tests can crash a run in-process many times cheaply;
- `stall`: sleep `LAKEHOUSE_FAULT_STALL_SECONDS` (default 5), as a slow store would, after
  logging where (a test then knows the run is there: to pause it, or cut its storage);
- `interrupt`: raise `KeyboardInterrupt`, as Python's own SIGINT handler does on Ctrl-C
  (in-process: a real SIGINT would also shut the embedded engine's server down);
- `sigint`: send the process SIGINT, as Ctrl-C in a terminal does (for runs in their own
  process; whatever handles SIGINT then runs).
Unset, a fault point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from fnmatch import fnmatchcase

FAULT_ENV = "LAKEHOUSE_FAULT"
ACTION_ENV = "LAKEHOUSE_FAULT_ACTION"
STALL_ENV = "LAKEHOUSE_FAULT_STALL_SECONDS"


class InjectedFault(BaseException):
    """A simulated crash. A BaseException, so no `except Exception` in the code swallows it."""


def fault_point(point: str) -> None:
    pattern = os.environ.get(FAULT_ENV)
    if not pattern or not fnmatchcase(point, pattern):
        return
    action = os.environ.get(ACTION_ENV, "kill")
    if action == "raise":
        raise InjectedFault(point)
    if action == "stall":
        print(f"fault: stalling at {point}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get(STALL_ENV, "5")))
        return
    if action == "interrupt":
        raise KeyboardInterrupt(point)
    if action == "sigint":
        os.kill(os.getpid(), signal.SIGINT)
        return
    os.kill(os.getpid(), signal.SIGKILL)

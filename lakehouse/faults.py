"""Fault injection for crash tests: stop a run dead at a named point.

Every commit passes a checkpoint before and after it (`before:silver.customer_trusted`,
`after:silver.customer_trusted`, ...). Setting `LAKEHOUSE_FAULT` to a point's name (shell-style
wildcards allowed) kills the process there with SIGKILL, as a crash or an OOM kill would.
With `LAKEHOUSE_FAULT_ACTION=raise` it raises `InjectedFault` instead, so tests can crash a run
in-process many times cheaply. Unset, a checkpoint costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
from fnmatch import fnmatchcase

FAULT_ENV = "LAKEHOUSE_FAULT"
ACTION_ENV = "LAKEHOUSE_FAULT_ACTION"


class InjectedFault(BaseException):
    """A simulated crash. A BaseException, so no `except Exception` in the code swallows it."""


def checkpoint(point: str) -> None:
    pattern = os.environ.get(FAULT_ENV)
    if not pattern or not fnmatchcase(point, pattern):
        return
    if os.environ.get(ACTION_ENV) == "raise":
        raise InjectedFault(point)
    os.kill(os.getpid(), signal.SIGKILL)

"""The application's failures the command line reports by exit status.

They live apart from the modules that raise them so the command line can name them without
importing those modules (and the engine they import) for commands that never raise them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.core.context import TableResult
    from lakehouse.core.rules import RuleFailed


class MaintenanceError(ValueError):
    """A maintenance request that cannot be carried out as asked."""


class NothingToErase(LookupError):
    """No table holds a row of that email (a typo, or erased already)."""


class RulesFailed(Exception):
    """`fail` rules stopped tables: they and the tables built from them were not committed;
    every other table was built."""

    def __init__(self, failures: list[RuleFailed], results: list[TableResult]) -> None:
        super().__init__("; ".join(str(failure) for failure in failures))
        self.failures = failures
        self.results = results
        self.run_id = ""


class RunFailed(RuntimeError):
    """A store (S3, Glue) stopped answering after the run began writing. Reported as a
    failure (exit 1), never as a configuration error (exit 2, which promises nothing was
    written and which orchestrators do not retry)."""

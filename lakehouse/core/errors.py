"""User mistakes the command line reports in one line, and the engine errors that are such.

A statement with a typo, a table that is not there or a version that was vacuumed is not a
failure of the lakehouse: the user gets the engine's own first line, what it means here and
what to do, never a traceback. Engine errors outside a user's query keep their traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_LONGEST = 300

# Installed without an engine extra, on a machine that brings no pyspark of its own: what a
# command that needs the engine says (commands import it when they run, not at start).
NO_ENGINE = (
    "error: no Spark engine is installed: pip install 'stedi-lakehouse[sail]' for the embedded "
    "engine, or 'stedi-lakehouse[spark]' for Apache Spark (a cluster's own pyspark also does)"
)


class UsageError(ValueError):
    """A request the command refuses as given (exit 2): it says which option fixes it."""


class QueryError(RuntimeError):
    """A query the engine could not run as written (exit 1)."""


# The command line names these in its exit statuses; they live here, apart from the modules
# that raise them, so it can do so without importing the engine.


class EngineError(RuntimeError):
    """The engine could not be started."""


class UnknownTable(LookupError):
    """No Delta table of that name in the warehouse."""


class AsOfError(ValueError):
    """An as-of point that names no version, time or run, or a version that cannot be read."""


@contextmanager
def query_errors() -> Iterator[None]:
    """Turn the engine's errors about a user's query into a one-line `QueryError`."""
    from pyspark.errors import (
        AnalysisException,
        IllegalArgumentException,
        QueryExecutionException,
    )

    try:
        yield
    except (AnalysisException, IllegalArgumentException, QueryExecutionException) as error:
        message = explain_query_error(error)
        if message is None:
            raise
        raise QueryError(message) from None


def explain_query_error(error: Exception) -> str | None:
    """One line for an engine error caused by the query, or None when it is not one."""
    from pyspark.errors import (
        AnalysisException,
        IllegalArgumentException,
        ParseException,
        QueryExecutionException,
    )

    first = first_line(str(error))
    lowered = str(error).lower()  # the whole message: the shown line may be cut short
    if isinstance(error, ParseException) or (
        isinstance(error, IllegalArgumentException) and "expected" in lowered
    ):
        return f"SQL syntax error: {first}"
    if "table_or_view_not_found" in lowered or "table not found" in lowered:
        return f"{first}: `lakehouse tables` lists the tables"
    if (
        "missing commit file" in lowered
        or "no version of the delta table" in lowered
        or ("version" in lowered and "not found" in lowered and "delta" in lowered)
    ):
        return (
            f"no such table version ({first}): `lakehouse history <table>` lists the versions "
            "and their times"
        )
    if isinstance(error, QueryExecutionException):
        if "not found" in lowered or "no such file" in lowered:
            return (
                "a version the query reads has lost its data files to `lakehouse vacuum` "
                f"({first}): time travel reaches back only as far as the vacuum's retention; "
                "read a newer version (`lakehouse history <table>` lists them)"
            )
        return None
    if isinstance(error, AnalysisException):
        hint = "; `lakehouse sql 'DESCRIBE <table>'` lists a table's columns"
        return f"the query cannot run: {first}" + (hint if "resolve" in lowered else "")
    return None


def first_line(text: str) -> str:
    """The first non-empty line of an engine message, cut to a readable length."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= _LONGEST else line[: _LONGEST - 3] + "..."

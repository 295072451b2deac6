"""Reading tables as they were: `--as-of` for queries, audits and diffs.

An as-of point is a version number (`3`: one table's version, so only for a query on one
table), a timestamp (`2026-11-23T01:02:03`, UTC unless it says otherwise) or a run id from the
run log. A timestamp or a run is a moment, and each table has its own version at that moment:
the run log says which version each run left every table at, and the Delta log says which
version was the newest at a given time. Every table read is pinned to that version with
Delta's own `VERSION AS OF`, which both engines support, after checking the version can still
be read in full (its log and data files retained).

Queries are parsed (sqlglot), never matched with patterns: the clause goes right after each
table reference in the text the user wrote, so string literals, comments and everything else
stay exactly as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlglot
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sqlglot import exp

from lakehouse.core.delta_log import (
    VersionNotRetained,
    delta_table,
    drop_checkpoint_hint,
    is_delta_table,
    require_retained,
)
from lakehouse.core.errors import AsOfError
from lakehouse.core.ops_tables import RUN_TABLES, RUNS
from lakehouse.core.storage import join


@dataclass(frozen=True)
class AsOf:
    """A point in the past: one table's version, or a moment (a time, or the end of a run)."""

    label: str
    version: int | None = None
    moment: datetime | None = None
    # For a run: the version the run log says that run (or an earlier one) left each table at.
    run_versions: Mapping[str, int] = field(default_factory=dict)


def resolve_as_of(spark: SparkSession, warehouse: str, value: str) -> AsOf:
    """The as-of point `value` names: a version number, an ISO timestamp or a run id."""
    if value.isdigit():
        return AsOf(f"version {value}", version=int(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return _run_point(spark, warehouse, value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return AsOf(moment.isoformat(), moment=moment)


def version_at(warehouse: str, table: str, as_of: AsOf) -> int:
    """The version of `table` at `as_of`, checked to be readable in full."""
    location = _location(warehouse, table)
    if not is_delta_table(location):
        raise AsOfError(f"no table {table} in {warehouse}: `lakehouse tables` lists them")
    if as_of.version is not None:
        version = as_of.version
    elif table in as_of.run_versions:
        version = as_of.run_versions[table]
    else:
        version = _newest_version_before(location, table, as_of)
    try:
        require_retained(location, table, version)
    except VersionNotRetained as error:
        raise AsOfError(f"{error} ({as_of.label})") from None
    # Sail cannot read below a checkpoint while the hint exists (see `drop_checkpoint_hint`);
    # a writer outside the lakehouse may have left one. Best effort: a reader may lack the
    # right to delete (read-only credentials), and the lakehouse's own commits left none.
    with suppress(Exception):
        drop_checkpoint_hint(location)
    return version


def read_as_of(spark: SparkSession, warehouse: str, table: str, as_of: AsOf | None) -> DataFrame:
    """The table as it was at `as_of` (now, when None)."""
    if as_of is None:
        return spark.table(table)
    return spark.sql(f"SELECT * FROM {table} VERSION AS OF {version_at(warehouse, table, as_of)}")


def rewrite_query(query: str, warehouse: str, tables: list[str], as_of: AsOf) -> str:
    """`query` with each reference to a known table pinned to that table's version at `as_of`.

    References that already say `VERSION AS OF` / `TIMESTAMP AS OF` are left as written.
    """
    references = table_references(query, tables)
    if as_of.version is not None and len({name for name, _ in references}) > 1:
        named = ", ".join(sorted({name for name, _ in references}))
        raise AsOfError(
            f"a version number is one table's version, and this query reads {named}: "
            "give a run id (`lakehouse runs`) or a timestamp to read them all at one moment"
        )
    versions = {name: version_at(warehouse, name, as_of) for name, _ in references}
    rewritten = query
    for name, end in sorted(references, key=lambda ref: ref[1], reverse=True):
        rewritten = f"{rewritten[:end]} VERSION AS OF {versions[name]}{rewritten[end:]}"
    return rewritten


def table_references(query: str, tables: list[str]) -> list[tuple[str, int]]:
    """(table name, offset just after its name in `query`) for each unpinned known table."""
    known = {name.lower(): name for name in tables}
    try:
        statements = sqlglot.parse(query, read="spark")
    except sqlglot.errors.ParseError as error:
        first = str(error).splitlines()[0]
        raise AsOfError(
            f"--as-of needs a query it can parse, and this one does not parse ({first}); "
            "or write VERSION AS OF after each table yourself"
        ) from None
    references = []
    for statement in statements:
        for table in statement.find_all(exp.Table) if statement else ():
            name = f"{table.db}.{table.name}".lower()
            if name not in known or table.args.get("version") is not None:
                continue
            references.append((known[name], int(table.this.meta["end"]) + 1))
    return references


@dataclass(frozen=True)
class Diff:
    added: DataFrame
    removed: DataFrame


def diff_versions(
    spark: SparkSession, warehouse: str, table: str, before: AsOf, after: AsOf
) -> Diff:
    """Rows in `after` but not `before` (added) and the reverse (removed), all columns compared."""
    old = read_as_of(spark, warehouse, table, before)
    new = read_as_of(spark, warehouse, table, after)
    return Diff(added=_missing_from(new, old), removed=_missing_from(old, new))


def _missing_from(rows: DataFrame, other: DataFrame) -> DataFrame:
    # An anti-join with NULL-safe equality on every column (EXCEPT ALL is slow on Sail).
    renamed = other.select(*[F.col(c).alias(f"_other_{c}") for c in other.columns])
    condition = None
    for column in rows.columns:
        equal = F.col(column).eqNullSafe(F.col(f"_other_{column}"))
        condition = equal if condition is None else condition & equal
    return rows.join(renamed, condition, "left_anti")


def _run_point(spark: SparkSession, warehouse: str, run_id: str) -> AsOf:
    """The end of a run: its moment, and the versions the run log says it left each table at."""
    row = None
    if is_delta_table(RUNS.location(warehouse)):
        this_run = spark.table(RUNS.qualified_name).where(F.col("run_id") == run_id)
        # Epoch microseconds: exact, whatever time zone this process runs in.
        row = this_run.select(F.unix_micros(F.coalesce("ended_at", "started_at"))).first()
    if row is None:
        raise AsOfError(
            f"{run_id!r} is not a version number, an ISO timestamp or a run id in the run log "
            "(`lakehouse runs` lists them)"
        )
    (ended,) = row
    earlier = (
        spark.table(RUNS.qualified_name)
        .crossJoin(this_run.select(F.col("started_at").alias("_this_start")))
        .where(F.col("started_at") <= F.col("_this_start"))
    )
    versions = (
        spark.table(RUN_TABLES.qualified_name)
        .join(earlier.select("run_id"), "run_id", "left_semi")
        .groupBy("table_name")
        .agg(F.max("version_after"))
        .collect()
    )
    return AsOf(
        f"the end of run {run_id}",
        moment=datetime.fromtimestamp(ended / 1e6, UTC),
        run_versions={name: int(version) for name, version in versions if version is not None},
    )


def _newest_version_before(location: str, table: str, as_of: AsOf) -> int:
    assert as_of.moment is not None
    at_ms = as_of.moment.timestamp() * 1000
    commits = delta_table(location).history()
    earlier = [int(c["version"]) for c in commits if int(c["timestamp"]) <= at_ms]
    if earlier:
        return max(earlier)
    if commits and min(int(c["version"]) for c in commits) > 0:
        raise AsOfError(
            f"{table} as of {as_of.label} is no longer retained: its log entries were cleaned "
            "(Delta keeps a table's log for delta.logRetentionDuration, 30 days by default)"
        )
    raise AsOfError(f"{table} did not exist yet at {as_of.label}")


def _location(warehouse: str, table: str) -> str:
    schema, _, name = table.partition(".")
    return join(warehouse, schema, name)

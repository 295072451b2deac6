"""Reading tables as they were: `--as-of` for queries, and diffs between two versions.

An as-of point is a version number (`3`), a timestamp (`2026-11-23T01:02:03`) or a run id from
the ledger (the moment that run ended). Queries are rewritten to Delta's own time travel
(`VERSION AS OF` / `TIMESTAMP AS OF`), which both engines support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.delta_log import is_delta_table
from lakehouse.ledger import RUNS


class AsOfError(ValueError):
    """An as-of point that names no version, time or run."""


@dataclass(frozen=True)
class AsOf:
    clause: str  # "VERSION AS OF 3" or "TIMESTAMP AS OF '...'"
    label: str


def resolve_as_of(spark: SparkSession, warehouse: str, value: str) -> AsOf:
    if value.isdigit():
        return AsOf(f"VERSION AS OF {int(value)}", f"version {value}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = _run_end(spark, warehouse, value)
        return AsOf(f"TIMESTAMP AS OF '{moment.isoformat()}'", f"the end of run {value}")
    return AsOf(f"TIMESTAMP AS OF '{moment.isoformat()}'", value)


def _run_end(spark: SparkSession, warehouse: str, run_id: str) -> datetime:
    if is_delta_table(RUNS.location(warehouse)):
        row = (
            spark.table(RUNS.qualified_name)
            .where(F.col("run_id") == run_id)
            .select(F.coalesce("ended_at", "started_at"))
            .first()
        )
        if row is not None:
            return row[0]
    raise AsOfError(
        f"{run_id!r} is not a version number, an ISO timestamp or a run id in the ledger "
        "(`lakehouse runs` lists them)"
    )


def rewrite_query(query: str, tables: list[str], as_of: AsOf) -> str:
    """Add the as-of clause after every mention of a known table that has none yet."""
    names = "|".join(re.escape(name) for name in sorted(tables, key=len, reverse=True))
    pattern = re.compile(
        rf"(?<![\w.`])({names})(?![\w.])(?!\s+(VERSION|TIMESTAMP)\s+AS\s+OF)", re.I
    )
    return pattern.sub(lambda m: f"{m.group(1)} {as_of.clause}", query)


@dataclass(frozen=True)
class Diff:
    added: DataFrame
    removed: DataFrame


def diff_versions(spark: SparkSession, table: str, before: AsOf, after: AsOf) -> Diff:
    """Rows in `after` but not `before` (added) and the reverse (removed), all columns compared."""
    old = spark.sql(f"SELECT * FROM {table} {before.clause}")
    new = spark.sql(f"SELECT * FROM {table} {after.clause}")
    return Diff(added=_missing_from(new, old), removed=_missing_from(old, new))


def _missing_from(rows: DataFrame, other: DataFrame) -> DataFrame:
    # An anti-join with NULL-safe equality on every column (EXCEPT ALL is slow on Sail).
    renamed = other.select(*[F.col(c).alias(f"_other_{c}") for c in other.columns])
    condition = None
    for column in rows.columns:
        equal = F.col(column).eqNullSafe(F.col(f"_other_{column}"))
        condition = equal if condition is None else condition & equal
    return rows.join(renamed, condition, "left_anti")

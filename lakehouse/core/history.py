"""Answers about the past: the runs in the run log, and each table version with its run.

History comes from the Delta log itself (`TableLog`: deltalake on the embedded engine, which has
no DESCRIBE HISTORY; SQL on Spark), joined with the run log to name the run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.core.catalog import TableSpec, table_location
from lakehouse.core.delta_log import TableLog, is_delta_table
from lakehouse.core.errors import UnknownTable
from lakehouse.core.ops_tables import RUN_TABLES, RUNS
from lakehouse.core.progress import utc_moment

Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]
METRICS_SHOWN = (
    ("numTargetRowsInserted", "inserted"),
    ("numTargetRowsUpdated", "updated"),
    ("numTargetRowsDeleted", "deleted"),
    ("numOutputRows", "written"),
)


def named_table(name: str) -> TableSpec:
    """Any table of the warehouse by its name alone, declared or not: where it lives and how
    its watermark and run-log rows name it (it has no MERGE key, and no DDL of its own)."""
    schema, _, table = name.partition(".")
    if not schema or not table:
        raise UnknownTable(
            f"{name!r}: name a table as <schema>.<table>, e.g. silver.customer_trusted"
        )
    return TableSpec(schema, table, ())


def run_listing(spark: SparkSession, warehouse: str, limit: int = 50) -> Rows:
    """The newest runs first, with row totals over the tables each changed."""
    columns = (
        "run_id",
        "command",
        "target",
        "status",
        "started_at",
        "seconds",
        "inserted",
        "updated",
        "deleted",
        "quarantined",
    )
    if not is_delta_table(RUNS.location(warehouse)):
        return columns, []
    totals = (
        spark.table(RUN_TABLES.qualified_name)
        .groupBy("run_id")
        .agg(*[F.sum(f"rows_{c}").alias(c) for c in columns[6:]])
    )
    runs = (
        spark.table(RUNS.qualified_name)
        .join(totals, "run_id", "left")
        .withColumn(
            "seconds",
            F.round(F.unix_micros("ended_at") / 1e6 - F.unix_micros("started_at") / 1e6, 1),
        )
        .orderBy(F.col("started_at").desc())
        .limit(limit)
        # As epoch microseconds: shown in UTC, like `history`, whatever the machine's zone.
        .withColumn("started_at", F.unix_micros("started_at"))
        .select(*columns)
    )
    start = columns.index("started_at")
    return columns, [
        (*row[:start], utc_text(row[start] / 1e6), *row[start + 1 :]) for row in runs.collect()
    ]


def utc_text(epoch_seconds: float) -> str:
    """`2026-11-23T01:02:03+00:00`: how the listings show a moment (`progress.utc_moment`)."""
    return utc_moment(datetime.fromtimestamp(epoch_seconds, UTC))


def table_history(spark: SparkSession, log: TableLog, warehouse: str, name: str) -> Rows:
    """Every version of a table: when, which operation, its metrics and the run that made it."""
    location = table_location(warehouse, name)
    if not is_delta_table(location):
        raise UnknownTable(f"no table {name} in {warehouse}: `lakehouse tables` lists them")
    runs: dict[int, str] = {}
    if is_delta_table(RUN_TABLES.location(warehouse)):
        made = (
            spark.table(RUN_TABLES.qualified_name)
            .where(
                (F.col("table_name") == name)
                & F.col("version_after").isNotNull()
                & ~F.col("version_after").eqNullSafe(F.col("version_before"))
            )
            .select("version_before", "version_after", "run_id")
        )
        # A run holds the warehouse lock, so every version between the one it found and the one
        # it left is its own: a vacuum's START and END commits, several commits of one job.
        for before, after, run_id in made.collect():
            first = 0 if before is None else int(before) + 1
            runs.update(dict.fromkeys(range(first, int(after) + 1), run_id))
    rows = []
    for commit in log.history(location):
        version = int(commit["version"])
        metrics = commit.get("operationMetrics") or {}
        shown = ", ".join(
            f"{label} {metrics[key]}" for key, label in METRICS_SHOWN if key in metrics
        )
        at = utc_text(commit["timestamp"] / 1000)
        rows.append((version, at, commit.get("operation", ""), shown, runs.get(version, "")))
    return ("version", "timestamp", "operation", "metrics", "run_id"), sorted(rows, reverse=True)

"""Quarantine replay: lines that a newer parser reads are moved from the quarantine into bronze.

For each source, the quarantined lines are parsed again with today's rules; those that now
give a valid record are appended to the landing table (stamped with this operation's batch, so
the next run carries them into silver and gold) and then deleted from the quarantine: one
commit per table. A replay cut off between the two finds the records already landed and only
deletes; a replay with nothing to move commits nothing.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.job import erased_people
from bronze.tables import (
    LANDING_TABLES,
    LINE_KEY,
    LINEAGE_KEY,
    QUARANTINE,
    QUARANTINE_REPLAYS,
    SOURCES,
)
from bronze.transforms import (
    FIELDS_BY_SOURCE,
    REASON,
    parse_records,
    valid_records,
    with_ingestion,
)
from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.delta_log import table_version
from lakehouse.core.merge import MergeResult, delete_matching
from lakehouse.core.scratch import staged
from lakehouse.core.suppression import without_suppressed


def replay_quarantine(ctx: RunContext) -> list[TableResult]:
    """Move every quarantined line that now parses into its landing table."""
    ctx.ensure(QUARANTINE, QUARANTINE_REPLAYS)
    results: list[TableResult] = []
    moved: list[tuple[object, ...]] = []
    for source in SOURCES:
        landed, deleted, files = replay_source(ctx, source)
        results.append(TableResult.of(landed, read=landed.inserted))
        results.append(TableResult.of(deleted, read=deleted.deleted))
        if deleted.deleted:
            moved.append(
                (ctx.run_id, source, files, deleted.deleted, ctx.batches.current, ctx.started_at)
            )
    if moved:
        ctx.append(
            ctx.spark.createDataFrame(moved, QUARANTINE_REPLAYS.row_schema), QUARANTINE_REPLAYS
        )
        ctx.batches.stamped()
    return results


def quarantine_summary(spark: SparkSession) -> DataFrame:
    """Quarantined lines counted by source, file and reason, most first."""
    return (
        spark.table(QUARANTINE.qualified_name)
        .groupBy("source", "source_file", "reason")
        .count()
        .orderBy(F.col("count").desc(), "source", "source_file", "reason")
    )


def replay_source(ctx: RunContext, source: str) -> tuple[MergeResult, MergeResult, int]:
    """(landing append, quarantine deletion, files involved) for one source."""
    fields = FIELDS_BY_SOURCE[source]
    landing = LANDING_TABLES[source]
    ctx.ensure(landing)
    lines = (
        ctx.table(QUARANTINE)
        .where((F.col("source") == source) & F.col("raw").isNotNull())
        .select(*LINE_KEY, F.col("raw").alias("line"), F.lit(None).cast("string").alias("problem"))
    )
    readable = lines.transform(parse_records(fields)).where(F.col(REASON).isNull())
    with staged(ctx.spark, readable, ctx.warehouse, f"replay.{source}") as now_valid:
        files = [row[0] for row in now_valid.select("source_file").distinct().collect()]
        if not files:
            return _unchanged(ctx, landing), _unchanged(ctx, QUARANTINE), 0
        stamp = with_ingestion(ctx.batches.current, ctx.run_id, ctx.started_at)
        records = now_valid.transform(valid_records(fields)).transform(stamp)
        held = ctx.table(landing).where(F.col("_source_file").isin(files)).select(*LINEAGE_KEY)
        new = records.join(held, list(LINEAGE_KEY), "left_anti")
        erased = erased_people(ctx)
        if erased is not None:  # an erased person's line leaves the quarantine, not for bronze
            for field in (f for f in fields if f.email):
                new = new.transform(without_suppressed(field.name, erased))
        landed = ctx.append(new, landing) if not new.isEmpty() else _unchanged(ctx, landing)
        deleted = delete_matching(
            ctx.spark, now_valid.select(*LINE_KEY).distinct(), QUARANTINE, ctx.warehouse
        )
    return landed, deleted, len(files)


def _unchanged(ctx: RunContext, table: TableSpec) -> MergeResult:
    version = table_version(table.location(ctx.warehouse))
    return MergeResult(table.qualified_name, version, version, 0, 0, 0, 0)

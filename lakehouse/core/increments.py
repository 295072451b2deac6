"""Incremental refresh of silver and gold tables, resumed from a watermark kept in Delta.

Bronze rows carry the batch that ingested them. `ops.watermarks` records, per table, the
batch it has processed through, its version right after, and the settings it was built
with. A run then does one of three things for each table:
- nothing, when no batch arrived since (no new table version);
- an incremental MERGE over what the new batches touch (`Increment.since_batch`);
- a full rebuild, when asked for (`--full-refresh`), when there is no watermark, the settings
  changed, or the table moved since its watermark (a restore, a manual change, a crash between
  the MERGE and the watermark).
The watermark is written after the table's MERGE; a crash in between means a full rebuild
next time, never a lost change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pyspark.sql import DataFrame

from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableResult, Watermark, source_rows
from lakehouse.core.delta_log import file_count, is_delta_table, table_version
from lakehouse.core.enforcement import enforce
from lakehouse.core.ops_tables import WATERMARKS


@dataclass(frozen=True)
class Increment:
    """What a run processes for one table: batches after `since_batch` (None: all, rebuild)."""

    since_batch: int | None
    through_batch: int

    @property
    def full(self) -> bool:
        return self.since_batch is None


# A table's content for an increment, and the scope that content completes (see merge_into).
Build = Callable[[Increment], tuple[DataFrame, DataFrame]]


def refresh(ctx: RunContext, table: TableSpec, build: Build) -> list[TableResult]:
    """Bring `table` up to the run's newest batch: plan, build, MERGE, then move the watermark."""
    ctx.ensure(table)
    # A table made by an older DDL, or under another `tables.deletion_vectors`, gets the
    # properties wanted now: its version then moves past its watermark, so it is rebuilt once.
    ctx.ensure_properties(table)
    increment = plan(ctx, table, ctx.batches.newest)
    if increment is None:
        return [TableResult.unchanged(table, table_version(table.location(ctx.warehouse)))]
    content, scope = build(increment)
    enforced = enforce(ctx, table, content, None if increment.full else scope)
    content = enforced.content
    if increment.full and file_count(table.location(ctx.warehouse)) == 0:
        # A first build: every row is new, so an INSERT does what the MERGE would do, in one
        # pass and without joining against the (empty) target.
        merge = ctx.append(content, table)
    elif increment.full:
        merge = ctx.merge(content, table, delete_unmatched=True)
    else:
        merge = ctx.merge(content, table, scope=scope, empty=enforced.empty)
    save_watermark(ctx, table, increment.through_batch, merge.version_after)
    result = TableResult.of(merge, read=source_rows(merge, content) + enforced.dropped)
    if enforced.quarantine is None:
        return [result]
    return [replace(result, quarantined=enforced.dropped), enforced.quarantine]


def plan(ctx: RunContext, table: TableSpec, through_batch: int) -> Increment | None:
    mark = watermark(ctx, table)
    version = table_version(table.location(ctx.warehouse))
    if table.qualified_name in ctx.options.full_refresh:
        return Increment(None, through_batch)
    if mark is None or mark.config_digest != ctx.settings_digest or mark.table_version != version:
        return Increment(None, through_batch)
    if mark.through_batch >= through_batch:
        return None
    return Increment(mark.through_batch, through_batch)


def watermark(ctx: RunContext, table: TableSpec) -> Watermark | None:
    if ctx.watermarks.by_table is None:
        ctx.watermarks.by_table = read_watermarks(ctx)
    return ctx.watermarks.by_table.get(table.qualified_name)


def read_watermarks(ctx: RunContext) -> dict[str, Watermark]:
    """Every table's watermark in one read (a table holds one row per incremental table)."""
    location = WATERMARKS.location(ctx.warehouse)
    if not is_delta_table(location):
        return {}
    rows = ctx.spark.read.format("delta").load(location).collect()
    return {
        row["table_name"]: Watermark(
            row["through_batch"], row["table_version"], row["config_digest"]
        )
        for row in rows
    }


def save_watermark(
    ctx: RunContext, table: TableSpec, through_batch: int, version: int | None
) -> None:
    ctx.ensure(WATERMARKS)
    row = (
        table.qualified_name,
        through_batch,
        version,
        ctx.settings_digest,
        ctx.run_id,
        ctx.started_at,
    )
    ctx.merge(ctx.spark.createDataFrame([row], WATERMARKS.row_schema), WATERMARKS)
    if ctx.watermarks.by_table is not None:  # committed: the run's next plan sees it
        mark = Watermark(through_batch, version, ctx.settings_digest)
        ctx.watermarks.by_table[table.qualified_name] = mark

"""Compaction of small files, as part of scheduled runs.

Every incremental run adds a few small files to each table it changes; after many runs a
table is read from thousands of them. At the end of a run, a table whose current version reads
more than `maintenance.compact_above_files` files is compacted (deltalake's compaction on the
embedded engine, OPTIMIZE on Spark): a new version with the same rows in fewer files.

Compaction moves a table's version. Silver and gold rebuild in full when their table moved
since their watermark, so a table that was up to date gets its watermark moved along.
"""

from __future__ import annotations

from lakehouse.core import fence
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.delta_log import file_count, table_log, table_version
from lakehouse.core.history import named_table
from lakehouse.core.increments import save_watermark, watermark


def compact_small_files(ctx: RunContext, names: list[str], above_files: int) -> list[TableResult]:
    """Compact each of `names` reading more than `above_files` files; 0 turns it off."""
    if above_files <= 0:
        return []
    log = table_log(ctx.spark, ctx.config.engine.name)
    done = []
    for name in names:
        table = named_table(name)
        location = table.location(ctx.warehouse)
        if file_count(location) <= above_files:
            continue
        before = table_version(location)
        mark = watermark(ctx, table)
        fence.check()
        log.compact(location)
        after = table_version(location)
        up_to_date = (
            mark is not None
            and mark.table_version == before
            and mark.config_digest == ctx.settings_digest
        )
        if mark is not None and up_to_date and after != before:
            save_watermark(ctx, table, mark.through_batch, after)
        done.append(TableResult(name, 0, 0, 0, 0, 0, after, before))
    return done

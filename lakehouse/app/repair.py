"""`lakehouse repair`: remove the rows two runs writing at once left under one key.

Before runs were fenced (`lakehouse.core.fence`), an S3 run that lost its lease while paused
kept writing beside the run that took it over: both MERGEd the same new rows, so silver and
gold held every such row twice, `run` then saw nothing to do and `run --full-refresh` failed
(a MERGE refuses a source row that matches two target rows). A silver or gold table's key
names one row, so a repeated key is damage: each such table holding one is rewritten keeping
one row per key (one commit). Bronze and the ops tables are not touched (the run log may name
one table twice in one run). Silver and gold tables whose version moved no longer match their
watermark, so the next `lakehouse run` rebuilds them from bronze, whichever row was kept.
"""

from __future__ import annotations

from gold.tables import TABLES as GOLD_TABLES
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.delta_log import is_delta_table
from lakehouse.core.merge import rewrite_deduplicated
from silver.tables import TABLES as SILVER_TABLES


def repair_duplicates(ctx: RunContext) -> list[TableResult]:
    """Rewrite each silver and gold table whose key repeats with one row per key; the tables
    rewritten."""
    repaired = []
    for table in (*SILVER_TABLES, *GOLD_TABLES):
        if not table.keys or not is_delta_table(table.location(ctx.warehouse)):
            continue
        ctx.ensure(table)  # registered by name, as the rewrite reads and writes it
        result = rewrite_deduplicated(ctx.spark, table, ctx.warehouse)
        if result.committed:
            repaired.append(TableResult.of(result, read=0))
    return repaired

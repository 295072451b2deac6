"""Bronze job: new landing files -> typed `*_landing` tables and `bronze.quarantine`."""

from __future__ import annotations

from functools import partial

from pyspark.sql import functions as F

from bronze.transforms import (
    FIELDS_BY_SOURCE,
    parse_records,
    quarantined_lines,
    valid_records,
    with_ingestion,
)
from lakehouse.catalog import TableSpec
from lakehouse.landing import SOURCES, landing_files, read_lines
from lakehouse.run import RunContext, TableJob, TableResult, source_rows

LINEAGE_KEY = ("_source_file", "_source_line")
LANDING_TABLES = {
    "customer": TableSpec("bronze", "customer_landing", LINEAGE_KEY),
    "accelerometer": TableSpec("bronze", "accelerometer_landing", LINEAGE_KEY),
    "step_trainer": TableSpec("bronze", "step_trainer_landing", LINEAGE_KEY),
}
QUARANTINE = TableSpec("bronze", "quarantine", ("source_file", "source_line"))


def ingest(ctx: RunContext, source: str) -> list[TableResult]:
    """MERGE the lines of the source's not yet ingested files into landing and quarantine.

    Quarantine is written first and a file counts as ingested once its rows are in the landing
    table, so a run cut off in between re-reads the file and the MERGEs absorb the repeat.
    """
    landing_table = LANDING_TABLES[source]
    ctx.ensure(landing_table, QUARANTINE)
    files = new_files(ctx, landing_table, landing_files(ctx.config.paths.landing, source))
    fields = FIELDS_BY_SOURCE[source]
    parsed = read_lines(ctx.spark, files).transform(parse_records(fields))
    stamp = partial(with_ingestion, ctx.run_id, ctx.started_at)

    bad = parsed.transform(quarantined_lines(source)).transform(stamp(prefix=""))
    quarantine = ctx.merge(bad, QUARANTINE)
    quarantined = source_rows(quarantine, bad) if files else 0

    good = parsed.transform(valid_records(fields)).transform(stamp())
    landed = ctx.merge(good, landing_table)
    valid = source_rows(landed, good) if files else 0
    return [
        TableResult.of(landed, read=valid + quarantined, quarantined=quarantined),
        TableResult.of(quarantine, read=quarantined),
    ]


def new_files(ctx: RunContext, table: TableSpec, files: list[str]) -> list[str]:
    """The files whose records are not in `table` yet."""
    done = {
        row[0]
        for row in ctx.spark.table(table.qualified_name)
        .select(F.col("_source_file"))
        .distinct()
        .collect()
    }
    return [path for path in files if path not in done]


JOBS = [
    TableJob(LANDING_TABLES[source].qualified_name, partial(ingest, source=source))
    for source in SOURCES
]

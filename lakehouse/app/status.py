"""`lakehouse status`: how fresh each source and each table is.

Per source: its files, how many the next run will read, the newest file and when it landed,
and the last ingestion. Per table: version, rows, its last commit and the run that changed it
last. A source is stale when its newest file is older than `quality.max_source_age_hours`
(or it has none), as dbt's source freshness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bronze.tables import INGESTED_FILES, SOURCES
from lakehouse.core.catalog import table_location
from lakehouse.core.config import Config
from lakehouse.core.delta_log import delta_table, is_delta_table, table_version
from lakehouse.core.landing import landing_files
from lakehouse.core.ops_tables import RUN_TABLES, RUNS


@dataclass(frozen=True)
class SourceStatus:
    source: str
    files: int
    to_read: int
    newest_file: str | None
    newest_landed_at: datetime | None
    last_ingested_at: datetime | None
    age_hours: float | None
    stale: bool


@dataclass(frozen=True)
class TableStatus:
    table: str
    version: int | None
    rows: int
    last_commit_at: datetime | None
    last_run: str | None
    age_hours: float | None


def source_status(spark: SparkSession, config: Config, now: datetime) -> list[SourceStatus]:
    limit = config.quality.max_source_age_hours
    seen: set[tuple[str, int, int, str | None]] = set()
    last: dict[str, datetime] = {}
    location = INGESTED_FILES.location(config.paths.warehouse)
    if is_delta_table(location):
        ingested = spark.read.format("delta").load(location)
        columns = ["file", "size", "modified_ns"]
        if "etag" in ingested.columns:  # a table from before the column
            columns.append("etag")
        for row in ingested.select(*columns).collect():
            seen.add((row[0], row[1], row[2], row[3] if len(row) > 3 else None))
        # As epoch microseconds: Python datetimes from the engine follow the machine's zone.
        latest = ingested.groupBy("source").agg(F.unix_micros(F.max("ingested_at")))
        for source, micros in latest.collect():
            last[source] = datetime.fromtimestamp(micros / 1e6, UTC)
    found = []
    for source in SOURCES:
        files = landing_files(config.paths.landing, source)
        newest = max(files, key=lambda f: f.modified_ns, default=None)
        landed = datetime.fromtimestamp(newest.modified_ns / 1e9, UTC) if newest else None
        age = (now - landed).total_seconds() / 3600 if landed else None
        stale = bool(limit) and (age is None or age > limit)
        waiting = sum(f.listed_as not in seen for f in files)
        name = newest.path.rsplit("/", 1)[-1] if newest else None
        found.append(
            SourceStatus(source, len(files), waiting, name, landed, last.get(source), age, stale)
        )
    return found


def table_status(
    spark: SparkSession, warehouse: str, names: list[str], now: datetime
) -> list[TableStatus]:
    last_runs: dict[str, str] = {}
    if is_delta_table(RUN_TABLES.location(warehouse)) and is_delta_table(RUNS.location(warehouse)):
        changes = (
            spark.table(RUN_TABLES.qualified_name)
            .where(~F.col("version_after").eqNullSafe(F.col("version_before")))
            .join(spark.table(RUNS.qualified_name).select("run_id", "started_at"), "run_id")
            .groupBy("table_name")
            .agg(F.max_by("run_id", "started_at"))
        )
        last_runs = {table: run for table, run in changes.collect()}
    found = []
    for name in names:
        location = table_location(warehouse, name)
        newest = delta_table(location).history(1)
        at = datetime.fromtimestamp(newest[0]["timestamp"] / 1000, UTC) if newest else None
        age = (now - at).total_seconds() / 3600 if at else None
        rows = spark.table(name).count()
        found.append(TableStatus(name, table_version(location), rows, at, last_runs.get(name), age))
    return found

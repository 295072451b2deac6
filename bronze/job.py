"""Bronze job: new landing files -> typed `*_landing` tables and `bronze.quarantine`.

A file is ingested once per content: `bronze.ingested_files` records its path and SHA-256
after its records are committed. A file listed with the size, modification time and (on S3)
ETag it was ingested with is skipped without being read; otherwise its checksum decides. The
same content again (a re-delivery, a `touch`) adds nothing; new content under a known name is
a new delivery: its lines are ingested beside the earlier ones (bronze keeps every delivery) and
silver takes the newest customer record and collapses identical readings. A landing zone moved
to a new path is recognised by each file's name and content (see `sort_out`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.explain import explain
from bronze.tables import (
    INGESTED_FILES,
    LANDING_TABLES,
    LINE_KEY,
    QUARANTINE,
    QUARANTINE_REPLAYS,
    SOURCES,
)
from bronze.transforms import (
    FIELDS_BY_SOURCE,
    REASON,
    REPAIRED,
    RESCUED,
    UNREADABLE,
    Field,
    parse_records,
    quarantined_lines,
    valid_records,
    with_explanations,
    with_ingestion,
    without_text_of_valid_records,
)
from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import MaintenanceConfig
from lakehouse.core.context import RunContext, TableJob, TableResult
from lakehouse.core.delta_log import is_delta_table, table_version
from lakehouse.core.landing import LandingFile, checked, survey, unread
from lakehouse.core.landing_lines import landing_lines
from lakehouse.core.merge import MergeResult, with_new_columns
from lakehouse.core.ops_tables import SUPPRESSION_LIST
from lakehouse.core.printable import printable
from lakehouse.core.scratch import STAGING, staged
from lakehouse.core.storage import join
from lakehouse.core.suppression import (
    without_suppressed,
    without_suppressed_text,
)

log = logging.getLogger(__name__)

EXPLAINED_SCHEMA = "source_file STRING, source_checksum STRING, source_line INT, explanation STRING"


def ingest(ctx: RunContext, source: str) -> list[TableResult]:
    """Write the records of the source's new files to quarantine and landing, then record them.

    `bronze.ingested_files` is committed last, so a run cut off before it re-reads the file
    next time; `append_new_files` then skips the tables that already hold it.
    """
    landing_table = LANDING_TABLES[source]
    ctx.ensure(landing_table, QUARANTINE, INGESTED_FILES, QUARANTINE_REPLAYS, SUPPRESSION_LIST)
    known = ingested_files(ctx, source)
    found = survey(
        ctx.config.paths.landing,
        source,
        follow_outside_links=ctx.config.ingest.follow_outside_links,
    )
    new, seen_again = sort_out(found.files, known)
    fields = FIELDS_BY_SOURCE[source]
    stamp = partial(with_ingestion, ctx.batches.current, ctx.run_id, ctx.started_at)
    notes = found.notes
    scratch = join(ctx.warehouse, STAGING, f"landing.{source}")
    with landing_lines(ctx.spark, new, scratch) as lines:
        parsed = lines.transform(parse_records(fields)).transform(without_text_of_valid_records)
        # Parsed once, then split: parsing the JSON is most of bronze's work.
        with staged(ctx.spark, parsed, ctx.warehouse, f"bronze.{source}", when=bool(new)) as rows:
            bad = (
                rows.transform(quarantined_lines(source))
                .transform(
                    with_explanations(explanations(ctx.spark, rows, fields) if new else None)
                )
                .transform(stamp(prefix=""))
            )
            good = rows.transform(valid_records(fields)).transform(stamp())
            suppressed = 0
            erased = erased_people(ctx) if new else None
            if erased is not None:
                good, bad, suppressed = without_erased_people(good, bad, fields, erased)
            quarantine = append_new_files(ctx, bad, QUARANTINE, new, prefix="")
            data_files = bronze_file_count(new, ctx.config.maintenance)
            landed = append_new_files(
                ctx, good, landing_table, new, prefix="_", data_files=data_files
            )
            if new:
                notes.extend(file_notes(rows, new, landing_table.qualified_name))
            if suppressed:
                notes.append(
                    f"{source}: {suppressed} records or lines of erased customers not ingested "
                    "(they are on the suppression list)"
                )

    ingested = [ingested_file_row(ctx, source, file) for file in new]
    for file, known_row in seen_again:  # known content: remember where it is now, read nothing
        seen = {"file": file.path, "size": file.size, "modified_ns": file.modified_ns}
        ingested.append({**known_row, **seen, "etag": file.etag})
    if ingested:
        record_ingested_files(ctx, ingested)
    if new:
        ctx.batches.stamped()
    for note in notes:
        log.warning("%s", printable(note))  # notes name landing files
    quarantined = quarantine.inserted
    read = landed.inserted + quarantined + suppressed
    return [
        TableResult.of(landed, read=read, quarantined=quarantined, notes=notes),
        TableResult.of(quarantine, read=quarantined),
    ]


def erased_people(ctx: RunContext) -> DataFrame | None:
    """The suppression list's digests (None while nobody was erased: nothing to drop)."""
    digests = [row[0] for row in ctx.table(SUPPRESSION_LIST).select("digest").collect()]
    if not digests:
        return None
    return ctx.spark.createDataFrame([(d,) for d in digests], "digest STRING")


def without_erased_people(
    good: DataFrame, bad: DataFrame, fields: tuple[Field, ...], erased: DataFrame
) -> tuple[DataFrame, DataFrame, int]:
    """Records and quarantined lines without those of erased people, and how many went."""
    emails = [field.name for field in fields if field.email]
    kept_good = good
    for email in emails:  # step-trainer readings name nobody
        kept_good = kept_good.transform(without_suppressed(email, erased))
    kept_bad = bad.transform(without_suppressed_text("raw", LINE_KEY, erased))
    gone = (good.count() - kept_good.count()) if emails else 0
    return kept_good, kept_bad, gone + bad.count() - kept_bad.count()


def explanations(
    spark: SparkSession, rows: DataFrame, fields: tuple[Field, ...]
) -> DataFrame | None:
    """Reasons in words for the lines the engine could not read (rare: collected here)."""
    unreadable = rows.where(F.col(UNREADABLE) & F.col(REASON).isNotNull()).select(*LINE_KEY, "line")
    worded = [
        (row[0], row[1], row[2], why)
        for row in unreadable.toLocalIterator()
        if row[3] is not None and (why := explain(row[3], fields))
    ]
    return spark.createDataFrame(worded, EXPLAINED_SCHEMA) if worded else None


def file_notes(rows: DataFrame, files: list[LandingFile], table: str) -> list[str]:
    """What the run summary says about single files: repairs, rescued fields, how read."""
    valid = F.col(REASON).isNull()
    counts = (
        rows.groupBy("source_file")
        .agg(
            F.sum((valid & F.col(REPAIRED)).cast("int")).alias("repaired"),
            F.sum((valid & F.col(RESCUED).isNotNull()).cast("int")).alias("rescued"),
        )
        .where((F.col("repaired") > 0) | (F.col("rescued") > 0))
        .collect()
    )
    notes = [
        f"{file.path}: read as {file.careful}"
        for file in files
        if file.careful in ("a JSON array", "invalid UTF-8", "a byte-order mark")
    ]
    for path, repaired, rescued in sorted(counts):
        if repaired:
            notes.append(f"{path}: {repaired} lines repaired (a trailing comma removed)")
        if rescued:
            notes.append(
                f"{path}: {rescued} records with fields the schema does not know "
                f"(kept in {table}._rescued_data)"
            )
    return notes


def bronze_file_count(files: list[LandingFile], settings: MaintenanceConfig) -> int:
    """How many data files the records of `files` are written to (see the setting)."""
    per_file = settings.landing_mb_per_bronze_file * 1024 * 1024
    if not files or per_file == 0:
        return max(1, len(files))
    return max(1, min(len(files), math.ceil(sum(file.size for file in files) / per_file)))


def append_new_files(
    ctx: RunContext,
    rows: DataFrame,
    table: TableSpec,
    files: list[LandingFile],
    *,
    prefix: str,
    data_files: int | None = None,
) -> MergeResult:
    """Append (INSERT) the rows of the files `table` does not hold yet.

    A file's rows enter a table in one commit, so a table holding any row of a file holds all
    of them: checking the file and checksum columns is enough, and cheaper than an insert-only
    MERGE that scans the whole table for matching lines.
    """
    file_column, checksum_column = f"{prefix}source_file", f"{prefix}source_checksum"
    location = table.location(ctx.warehouse)
    paths = [file.path for file in files]
    held = (
        {
            (row[0], row[1])
            for row in ctx.table(table)
            .where(F.col(file_column).isin(paths))
            .select(file_column, checksum_column)
            .distinct()
            .collect()
        }
        if paths
        else set()
    )
    missing = [file.path for file in files if (file.path, file.checksum) not in held]
    if not missing:
        version = table_version(location)
        return MergeResult(table.qualified_name, version, version, 0, 0, 0, 0)
    return ctx.append(rows.where(F.col(file_column).isin(missing)), table, data_files=data_files)


def ingested_files(ctx: RunContext, source: str) -> dict[tuple[str, str], dict[str, object]]:
    """The `bronze.ingested_files` rows of one source, by (file, checksum)."""
    rows = ctx.spark.table(INGESTED_FILES.qualified_name).where(F.col("source") == source)
    return {(row["file"], row["checksum"]): row.asDict() for row in rows.collect()}


def sort_out(
    listed: Iterable[LandingFile], known: dict[tuple[str, str], dict[str, object]]
) -> tuple[list[LandingFile], list[tuple[LandingFile, dict[str, object]]]]:
    """Split listed files into new content and known content seen again (with the row that
    records it): with a new size or time, or under a moved landing zone.

    Unchanged files (listed as when ingested: path, size, time, ETag) are dropped unread.
    A file is known by its path and content, or by its name in the source folder and content:
    a landing zone moved to a new path (a new bucket, a renamed mount) holds the same names
    with the same content, and those were ingested already. A known content under another
    name is still a new delivery (see the README, "Scheduled runs").
    """
    by_name = {(file_name(path), checksum): row for (path, checksum), row in known.items()}
    candidates = unread(listed, known.values())
    new: list[LandingFile] = []
    seen_again: list[tuple[LandingFile, dict[str, object]]] = []
    for file in checked(candidates):
        checksum = str(file.checksum)
        row = known.get((file.path, checksum)) or by_name.get((file_name(file.path), checksum))
        if row is None:
            new.append(file)
        else:
            seen_again.append((file, row))
    return new, seen_again


def file_name(path: str) -> str:
    """A landing file's name in its source folder (sources hold no subfolders)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def ingested_file_row(ctx: RunContext, source: str, file: LandingFile) -> dict[str, object]:
    return {
        "source": source,
        "file": file.path,
        "checksum": file.checksum,
        "size": file.size,
        "modified_ns": file.modified_ns,
        "batch": ctx.batches.current,
        "ingestion_run_id": ctx.run_id,
        "ingested_at": ctx.started_at,
        "etag": file.etag,
    }


def record_ingested_files(ctx: RunContext, rows: list[dict[str, object]]) -> None:
    columns = INGESTED_FILES.column_names
    frame = ctx.spark.createDataFrame(
        [tuple(r.get(c) for c in columns) for r in rows], INGESTED_FILES.row_schema
    )
    # A table made before its DDL had `etag` gets the column first (its own commit).
    with_new_columns(ctx.spark, INGESTED_FILES, INGESTED_FILES.location(ctx.warehouse), frame)
    ctx.merge(frame, INGESTED_FILES)


def latest_batch(spark: SparkSession, warehouse: str) -> int:
    """The newest batch any file was ingested or any quarantined line replayed in (0: none)."""
    newest = 0
    for table in (INGESTED_FILES, QUARANTINE_REPLAYS):
        location = table.location(warehouse)
        if not is_delta_table(location):
            continue
        latest = spark.read.format("delta").load(location).agg(F.max("batch")).first()
        if latest and latest[0] is not None:
            newest = max(newest, int(latest[0]))
    return newest


JOBS = [
    TableJob(LANDING_TABLES[source].qualified_name, partial(ingest, source=source))
    for source in SOURCES
]

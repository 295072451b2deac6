"""Table maintenance: restore and vacuum, through the engine's `TableLog` (deltalake or SQL)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from deltalake.exceptions import DeltaError
from pyspark.sql import functions as F

from bronze.tables import INGESTED_FILES, LANDING_TABLES, QUARANTINE
from lakehouse.app.errors import MaintenanceError
from lakehouse.app.tables import TABLES
from lakehouse.core import fence
from lakehouse.core.catalog import TableSpec, table_location
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.delta_log import (
    VACUUM_RETAIN_HOURS,
    TableLog,
    delta_table,
    is_delta_table,
    may_hold_deletion_vectors,
    table_log,
    table_version,
)
from lakehouse.core.erasures import vacuum_retention
from lakehouse.core.faults import fault_point
from lakehouse.core.merge import rewrite_without
from lakehouse.core.ops_tables import ERASURES, RUN_TABLES, RUNS, SUPPRESSION_LIST
from lakehouse.core.storage import forget_old_versions

# The vacuum's retention unless told: `lakehouse vacuum` and `erase` offer it as their default.
DEFAULT_RETAIN_HOURS = VACUUM_RETAIN_HOURS


def restore(ctx: RunContext, table: TableSpec, version: int) -> TableResult:
    """Roll `table` back to `version` as a new commit (history is kept).

    Silver and gold notice on the next run that the table moved since their watermark and
    rebuild it. A restored bronze table forgets files ingested after `version`: they leave the
    ingested-files table, so the next run ingests them again.
    """
    location = table.location(ctx.warehouse)
    if not is_delta_table(location):
        raise MaintenanceError(f"no table {table.qualified_name}: `lakehouse tables` lists them")
    before = table_version(location)
    if before is None or not 0 <= version <= before:
        raise MaintenanceError(f"{table.qualified_name} has versions 0 to {before}, not {version}")
    if version == before:
        raise MaintenanceError(
            f"{table.qualified_name} is at version {version}: nothing to restore"
        )
    _refuse_bringing_back_the_erased(ctx, table, version)
    try:
        log_of(ctx).restore(location, version)
    except DeltaError as error:
        # deltalake refuses (and writes nothing) when the version's files were vacuumed.
        if "missing file" not in str(error).lower():
            raise
        raise MaintenanceError(
            f"version {version} of {table.qualified_name} lost its data files to vacuum: "
            "restore a newer version (`lakehouse history` lists them)"
        ) from None
    bronze_tables = {spec.qualified_name: spec for spec in (*LANDING_TABLES.values(), QUARANTINE)}
    if table.qualified_name in bronze_tables:
        forget_files_not_in(ctx, bronze_tables[table.qualified_name])
    return TableResult(table.qualified_name, 0, 0, 0, 0, 0, table_version(location), before)


def _refuse_bringing_back_the_erased(ctx: RunContext, table: TableSpec, version: int) -> None:
    """An erasure deletes a person's rows in a new version; the versions before it still hold
    them (until vacuum), and restoring one would make them current again."""
    if table.qualified_name == SUPPRESSION_LIST.qualified_name:
        raise MaintenanceError(
            f"{table.qualified_name} is not restored: it is what keeps erased people out of "
            "every later delivery"
        )
    if table.qualified_name == ERASURES.qualified_name:
        raise MaintenanceError(
            f"{table.qualified_name} is not restored: it is how an erasure cut short is known "
            "and finished"
        )
    erasures = (
        ctx.table(RUN_TABLES)
        .join(ctx.table(RUNS).where(F.col("command") == "erase"), "run_id")
        .where((F.col("table_name") == table.qualified_name) & (F.col("rows_deleted") > 0))
        .agg(F.max("version_after"))
        .first()
    )
    erased_at = erasures[0] if erasures is not None else None
    if erased_at is not None and version < erased_at:
        raise MaintenanceError(
            f"version {version} of {table.qualified_name} is from before an erasure and holds "
            f"the erased person's rows: restore version {erased_at} or later "
            f"(`lakehouse history {table.qualified_name}`)"
        )


def forget_files_not_in(ctx: RunContext, table: TableSpec) -> None:
    """Drop `bronze.ingested_files` rows of files the (restored) bronze table no longer holds."""
    prefix = "" if table == QUARANTINE else "_"
    held = ctx.table(table).select(
        F.col(f"{prefix}source_file").alias("file"),
        F.col(f"{prefix}source_checksum").alias("checksum"),
    )
    ingested = ctx.table(INGESTED_FILES)
    if table != QUARANTINE:
        source = next(s for s, spec in LANDING_TABLES.items() if spec == table)
        ingested = ingested.where(F.col("source") == source)
    gone = ingested.join(held.distinct(), ["file", "checksum"], "left_anti").select(
        "file", "checksum"
    )
    ctx.merge(ctx.table(INGESTED_FILES).limit(0), INGESTED_FILES, scope=gone)


@dataclass(frozen=True)
class Vacuumed:
    table: str
    files_deleted: int | None
    version_before: int | None = None
    version_after: int | None = None

    def result(self) -> TableResult:
        """The run log line: it names the vacuum's run beside its commits in `history`."""
        return TableResult(self.table, 0, 0, 0, 0, 0, self.version_after, self.version_before)


def vacuum(ctx: RunContext, tables: list[str], retain_hours: float) -> list[Vacuumed]:
    """Physically delete data files no version within `retain_hours` needs.

    Rows deleted through deletion vectors (a withdrawn consent) still sit in files the
    current version reads; those tables are rewritten first, so their rows go with the files
    of older versions once `retain_hours` have passed, as rows deleted by a rewrite do. An
    erasure whose own retention is over shortens `retain_hours` to keep only what is younger
    than it (`erasures.vacuum_retention`).

    On a bucket that keeps versions, every non-current version and delete marker of each
    table goes too: Delta never reads them, and they hold what vacuums and log clean-ups
    removed (raises `VersionsKept` where the bucket refuses).
    """
    log = log_of(ctx)
    retain_hours = vacuum_retention(ctx, retain_hours, datetime.now(UTC))
    declared = {table.qualified_name: table for table in TABLES}
    done = []
    for name in tables:
        location = table_location(ctx.warehouse, name)
        before = table_version(location)
        table = declared.get(name)
        if (
            table is not None
            and may_hold_deletion_vectors(location)
            and holds_deleted_rows(ctx, table)
        ):
            rewrite_without(ctx.spark, ctx.table(table).limit(0), table, ctx.warehouse)
        fault_point(f"before:vacuum:{name}")
        fence.check()
        deleted = log.vacuum(location, retain_hours)
        fault_point(f"after:vacuum:{name}")
        done.append(Vacuumed(name, deleted, before, table_version(location)))
    # A bucket that keeps versions would keep the files and log entries just removed; after
    # every table's vacuum, so a table the bucket protects does not stop the others'.
    forget_old_versions(*(table_location(ctx.warehouse, name) for name in tables))
    return done


def holds_deleted_rows(ctx: RunContext, table: TableSpec) -> bool:
    """Whether the table's current files hold more rows than it has (deletion vectors); also
    when a file's row count is unknown (written without statistics), to be safe."""
    files = delta_table(table.location(ctx.warehouse)).get_add_actions(flatten=True)
    counts = files.column("num_records").to_pylist()
    if any(n is None for n in counts):
        return True
    return sum(int(n) for n in counts) > ctx.table(table).count()


def with_vacuum(results: list[TableResult], vacuumed: list[Vacuumed]) -> list[TableResult]:
    """`results` with each vacuumed table's newest version: one run-log line per table.

    A table the vacuum left at its version (nothing to delete) gets no line of its own.
    """
    after = {v.table: v for v in vacuumed}
    merged = [
        replace(r, version=after.pop(r.table).version_after) if r.table in after else r
        for r in results
    ]
    moved = [v.result() for v in after.values() if v.version_after != v.version_before]
    return merged + moved


def forget_history(ctx: RunContext, vacuumed: list[Vacuumed], tables: list[str]) -> list[Vacuumed]:
    """Remove every log entry before each of `tables`' current version (time travel to them
    ends here); `vacuumed` with those tables' versions after it, for the run log.

    After an erasure with no retention, the old entries are the last place naming the files
    that held the person (and, in tables made before statistics left out identifiers, their
    values as min/max statistics).
    """
    log = log_of(ctx)
    purged = {}
    for name in tables:
        location = table_location(ctx.warehouse, name)
        fault_point(f"before:purge:{name}")
        fence.check()
        log.purge_log(location)
        fault_point(f"after:purge:{name}")
        purged[name] = table_version(location)
    # The purged entries, and files removed before, where the bucket keeps versions.
    forget_old_versions(*(table_location(ctx.warehouse, name) for name in tables))
    return [replace(v, version_after=purged[v.table]) if v.table in purged else v for v in vacuumed]


def log_of(ctx: RunContext) -> TableLog:
    return table_log(ctx.spark, ctx.config.engine.name)

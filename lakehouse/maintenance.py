"""Table maintenance the embedded engine lacks as SQL: restore and vacuum, via `deltalake`.

Both act on the Delta log and files directly, so they work on tables any engine wrote; on a
Spark cluster the equivalent SQL is `RESTORE TABLE ... TO VERSION AS OF n` and `VACUUM ...`.
"""

from __future__ import annotations

from dataclasses import dataclass

from deltalake import DeltaTable
from pyspark.sql import functions as F

from bronze.job import INGESTED_FILES, LANDING_TABLES, QUARANTINE
from lakehouse.catalog import TableSpec
from lakehouse.delta_log import is_delta_table, table_version
from lakehouse.history import table_spec
from lakehouse.run import RunContext, TableResult

DEFAULT_RETAIN_HOURS = 168.0


class MaintenanceError(ValueError):
    """A maintenance request that cannot be carried out as asked."""


def restore(ctx: RunContext, table: TableSpec, version: int) -> TableResult:
    """Roll `table` back to `version` as a new commit (history is kept).

    Silver and gold notice on the next run that the table moved since their watermark and
    rebuild it. A restored bronze table forgets files ingested after `version`: they leave the
    file ledger, so the next run ingests them again.
    """
    location = table.location(ctx.warehouse)
    if not is_delta_table(location):
        raise MaintenanceError(f"no table {table.qualified_name}: `lakehouse tables` lists them")
    before = table_version(location)
    if before is None or not 0 <= version <= before:
        raise MaintenanceError(f"{table.qualified_name} has versions 0 to {before}, not {version}")
    DeltaTable(location).restore(version)
    bronze_tables = {spec.qualified_name: spec for spec in (*LANDING_TABLES.values(), QUARANTINE)}
    if table.qualified_name in bronze_tables:
        forget_files_not_in(ctx, bronze_tables[table.qualified_name])
    return TableResult(table.qualified_name, 0, 0, 0, 0, 0, table_version(location), before)


def forget_files_not_in(ctx: RunContext, table: TableSpec) -> None:
    """Drop ledger rows of files the (restored) bronze table no longer holds."""
    prefix = "" if table == QUARANTINE else "_"
    held = ctx.table(table).select(
        F.col(f"{prefix}source_file").alias("file"),
        F.col(f"{prefix}source_checksum").alias("checksum"),
    )
    ledger = ctx.table(INGESTED_FILES)
    if table != QUARANTINE:
        source = next(s for s, spec in LANDING_TABLES.items() if spec == table)
        ledger = ledger.where(F.col("source") == source)
    gone = ledger.join(held.distinct(), ["file", "checksum"], "left_anti").select(
        "file", "checksum"
    )
    ctx.merge(ctx.table(INGESTED_FILES).limit(0), INGESTED_FILES, scope=gone)


@dataclass(frozen=True)
class Vacuumed:
    table: str
    files_deleted: int


def vacuum(warehouse: str, tables: list[str], retain_hours: float) -> list[Vacuumed]:
    """Physically delete data files no version within `retain_hours` needs."""
    done = []
    for name in tables:
        location = table_spec(name).location(warehouse)
        deleted = DeltaTable(location).vacuum(
            retention_hours=int(retain_hours), enforce_retention_duration=False, dry_run=False
        )
        done.append(Vacuumed(name, len(deleted)))
    return done

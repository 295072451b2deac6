"""Upserts with SQL `MERGE INTO`, the one write path every job uses (both engines run it)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lakehouse.catalog import TableSpec
from lakehouse.delta_log import commit_metrics, table_version


@dataclass(frozen=True)
class MergeResult:
    table: str
    version_before: int | None
    version_after: int | None
    source_rows: int | None
    inserted: int
    updated: int
    deleted: int

    @property
    def committed(self) -> bool:
        return self.version_after != self.version_before


def merge_into(
    spark: SparkSession,
    source: DataFrame,
    table: TableSpec,
    warehouse: str,
    *,
    delete_unmatched: bool = False,
) -> MergeResult:
    """MERGE `source` into `table` on its keys.

    New keys are inserted; matched rows are updated only when a value differs, so re-running
    with the same source writes no new table version. With `delete_unmatched`, target rows
    missing from `source` are deleted (the source is then the table's complete new content).
    """
    location = table.location(warehouse)
    before = table_version(location)
    columns = spark.table(table.qualified_name).columns
    view = f"merge_source_{table.schema}_{table.name}"
    source.select(*columns).createOrReplaceTempView(view)
    try:
        spark.sql(merge_statement(table, columns, view, delete_unmatched=delete_unmatched))
    finally:
        spark.catalog.dropTempView(view)
    after = table_version(location)
    metrics = commit_metrics(location, after) if after is not None and after != before else {}
    return MergeResult(
        table=table.qualified_name,
        version_before=before,
        version_after=after,
        source_rows=metrics.get("numSourceRows"),
        inserted=int(metrics.get("numTargetRowsInserted", 0)),
        updated=int(metrics.get("numTargetRowsUpdated", 0)),
        deleted=int(metrics.get("numTargetRowsDeleted", 0)),
    )


def merge_statement(
    table: TableSpec, columns: list[str], view: str, *, delete_unmatched: bool
) -> str:
    on = " AND ".join(f"t.`{key}` = s.`{key}`" for key in table.keys)
    values = [c for c in columns if c not in table.keys]
    clauses = []
    if values:
        unchanged = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in values)
        assignments = ", ".join(f"`{c}` = s.`{c}`" for c in values)
        clauses.append(f"WHEN MATCHED AND NOT ({unchanged}) THEN UPDATE SET {assignments}")
    column_list = ", ".join(f"`{c}`" for c in columns)
    source_list = ", ".join(f"s.`{c}`" for c in columns)
    clauses.append(f"WHEN NOT MATCHED THEN INSERT ({column_list}) VALUES ({source_list})")
    if delete_unmatched:
        clauses.append("WHEN NOT MATCHED BY SOURCE THEN DELETE")
    return f"MERGE INTO {table.qualified_name} t USING {view} s ON {on}\n" + "\n".join(clauses)

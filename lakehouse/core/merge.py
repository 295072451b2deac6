"""The two write paths every job uses, both plain SQL that both engines run.

- `merge_into`: an upsert with `MERGE INTO`, keyed on the table's natural key;
- `append_into`: `INSERT INTO`, for rows whose keys are known to be new (bronze files the
  table does not hold yet), where a MERGE would only scan the whole table to find no match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from lakehouse.core import fence, scratch
from lakehouse.core.catalog import TableSpec
from lakehouse.core.delta_log import drop_checkpoint_hint, table_version, version_and_metrics
from lakehouse.core.faults import fault_point

DELETE_FLAG = "_merge_delete"
HELD_FLAG = "_merge_held"


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
    scope: DataFrame | None = None,
    empty: bool = False,
) -> MergeResult:
    """MERGE `source` into `table` on its keys (`empty`: `source` is known to hold no rows).

    New keys are inserted; matched rows are updated only when a value differs, so re-running
    with the same source writes no new table version. Deletions take one of two forms:
    - `delete_unmatched`: `source` is the table's complete new content; other rows are deleted;
    - `scope` (a frame of some of the table's columns): `source` is the complete new content of
      the rows that match `scope` on those columns; such rows missing from `source` are deleted.
      That is how an incremental run removes, say, the readings of a withdrawn consent.
    """
    location = table.location(warehouse)
    before = table_version(location)
    target = spark.table(table.qualified_name)
    rows = source.select(*target.columns)
    # An empty scope (no customer changed) deletes nothing: its markers would be none, but
    # finding that out joins the whole target, where this asks the small scope once.
    leaving = scope is not None and not scope.isEmpty()
    if empty and scope is not None and not leaving:
        # Nothing to add and nothing to delete: the MERGE would commit nothing.
        return MergeResult(table.qualified_name, before, before, 0, 0, 0, 0)
    if scope is not None:
        rows = flagged_source(
            rows,
            target,
            table.keys,
            leaving=scope if leaving else None,
            held=table.content_keyed,
        )
    view = f"merge_source_{table.schema}_{table.name}"
    statement = merge_statement(
        table, target.columns, view, delete_unmatched=delete_unmatched, flagged=scope is not None
    )
    _before_commit(f"before:{table.qualified_name}")
    if scope is None:
        _run_with_view(spark, statement, rows, view)
    else:
        # The engine evaluates a MERGE source more than once; an incremental source is a
        # chain of joins over bronze and small once computed, so compute it once.
        with scratch.staged(spark, rows, warehouse, table.qualified_name) as copy:
            if table.content_keyed:
                return _delete_then_insert(
                    spark, table, target.columns, copy, view, location, before, markers=leaving
                )
            _run_with_view(spark, statement, copy, view)
    fault_point(f"after:{table.qualified_name}")
    after, metrics = _committed(location, before)
    deleted = int(metrics.get("numTargetRowsDeleted", 0))
    source_rows = metrics.get("numSourceRows")
    if source_rows is not None and scope is not None:
        source_rows = int(source_rows) - deleted  # every deletion marker matched and deleted
    return MergeResult(
        table=table.qualified_name,
        version_before=before,
        version_after=after,
        source_rows=source_rows,
        inserted=int(metrics.get("numTargetRowsInserted", 0)),
        updated=int(metrics.get("numTargetRowsUpdated", 0)),
        deleted=deleted,
    )


def delete_matching(
    spark: SparkSession, keys: DataFrame, table: TableSpec, warehouse: str
) -> MergeResult:
    """Delete the rows of `table` whose key columns match a row of `keys` (one commit)."""
    location = table.location(warehouse)
    before = table_version(location)
    view = f"delete_keys_{table.schema}_{table.name}"
    fence.check()
    _run_with_view(spark, delete_statement(table, view), keys.select(*table.keys), view)
    after, metrics = _committed(location, before)
    deleted = int(metrics.get("numTargetRowsDeleted", 0))
    return MergeResult(table.qualified_name, before, after, None, 0, 0, deleted)


def rewrite_without(
    spark: SparkSession, keys: DataFrame, table: TableSpec, warehouse: str
) -> MergeResult:
    """Rewrite the whole table without the rows whose key columns match a row of `keys`.

    One commit, like `delete_matching`, but every current data file is new: a delete with
    deletion vectors leaves the deleted rows' bytes in files the current version still reads,
    including rows deleted earlier (a withdrawn consent), until those files are rewritten.
    """
    location = table.location(warehouse)
    before = table_version(location)
    target = spark.table(table.qualified_name)
    kept = target.join(keys.select(*table.keys).distinct(), list(table.keys), "left_anti")
    rows_before = target.count()
    view = f"rewrite_source_{table.schema}_{table.name}"
    column_list = ", ".join(f"`{c}`" for c in target.columns)
    statement = f"INSERT OVERWRITE {table.qualified_name} SELECT {column_list} FROM {view}"
    # The kept rows are computed before the overwrite replaces the files they are read from.
    with scratch.staged(
        spark, kept.select(*target.columns), warehouse, table.qualified_name
    ) as copy:
        rows_after = copy.count()
        _before_commit(f"before:{table.qualified_name}")
        _run_with_view(spark, statement, copy, view)
        fault_point(f"after:{table.qualified_name}")
    after, _ = _committed(location, before)
    deleted = rows_before - rows_after
    return MergeResult(table.qualified_name, before, after, None, 0, 0, deleted)


def rewrite_deduplicated(spark: SparkSession, table: TableSpec, warehouse: str) -> MergeResult:
    """Rewrite the whole table keeping one row per key (one commit); nothing when no key repeats.

    Only writers that bypassed the warehouse lock repeat a key (two runs MERGEing at once);
    which of a key's rows stays is arbitrary: silver and gold are rebuilt from bronze next.
    """
    location = table.location(warehouse)
    before = table_version(location)
    target = spark.table(table.qualified_name)
    rows_before = target.count()
    if rows_before == target.select(*table.keys).distinct().count():
        return MergeResult(table.qualified_name, before, before, None, 0, 0, 0)
    first = Window.partitionBy(*table.keys).orderBy(*table.keys)
    kept = (
        target.withColumn("_repair_rank", F.row_number().over(first))
        .where(F.col("_repair_rank") == 1)
        .select(*target.columns)
    )
    view = f"repair_source_{table.schema}_{table.name}"
    column_list = ", ".join(f"`{c}`" for c in target.columns)
    statement = f"INSERT OVERWRITE {table.qualified_name} SELECT {column_list} FROM {view}"
    # The kept rows are computed before the overwrite replaces the files they are read from.
    with scratch.staged(spark, kept, warehouse, table.qualified_name) as copy:
        rows_after = copy.count()
        _before_commit(f"before:{table.qualified_name}")
        _run_with_view(spark, statement, copy, view)
        fault_point(f"after:{table.qualified_name}")
    after, _ = _committed(location, before)
    return MergeResult(table.qualified_name, before, after, None, 0, 0, rows_before - rows_after)


def _delete_then_insert(
    spark: SparkSession,
    table: TableSpec,
    columns: list[str],
    rows: DataFrame,
    view: str,
    location: str,
    before: int | None,
    *,
    markers: bool,
) -> MergeResult:
    """The flagged MERGE of a content-keyed table as a delete-only MERGE, then an append.

    A row of such a table never changes, so nothing is updated: a delete-only MERGE runs when
    there is anything to delete, then the rows the table does not hold (`with_held_flag`,
    computed with `rows`) are appended. A MERGE, even an insert-only one, reads and joins
    whole target files, and was 3-7 times slower on the embedded engine than the key lookup
    and append. They are not one transaction, which is safe because only the run holding the
    warehouse lock writes these tables. Deleting first means a run cut off in between leaves
    no row that should have gone; the table then no longer matches its watermark and the
    next run rebuilds it. `markers`: whether `rows` may hold deletion markers at all.
    """
    deleted = 0
    doomed = rows.where(F.col(DELETE_FLAG)).select(*table.keys)
    if markers and not doomed.isEmpty():
        # Only the markers' keys, and no condition on the source's flag: with the condition
        # and every column the same deletion took twice as long on Sail (2M-row target).
        _run_with_view(spark, delete_statement(table, view), doomed, view)
        _, metrics = _committed(location, before)
        deleted = int(metrics.get("numTargetRowsDeleted", 0))
        _before_commit(f"between:{table.qualified_name}")
    kept = rows.where(~F.col(DELETE_FLAG))
    new = kept.where(~F.col(HELD_FLAG)).select(*columns)
    counts = kept.agg(F.count("*"), F.count_if(~F.col(HELD_FLAG))).first()
    source_rows, inserted = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    if inserted:
        _insert(spark, table, columns, new, view)
    fault_point(f"after:{table.qualified_name}")
    after, _ = _committed(location, before)
    return MergeResult(table.qualified_name, before, after, source_rows, inserted, 0, deleted)


def _before_commit(point: str) -> None:
    """Every commit's last step: its fault point, then the fence (`lakehouse.core.fence`).

    The fence comes after the fault point, so a run stalled there (as a paused or cut-off
    run would be) still checks that it holds the warehouse before it writes.
    """
    fault_point(point)
    fence.check()


def _run_with_view(spark: SparkSession, statement: str, source: DataFrame, view: str) -> None:
    """Run `statement`, which reads `source` under the name `view`.

    The frame travels with the statement (`spark.sql`'s DataFrame arguments): one request,
    where a temporary view created before and dropped after took three.
    """
    escaped = statement.replace("{", "{{").replace("}", "}}")  # literal braces stay literal
    spark.sql(re.sub(rf"\b{re.escape(view)}\b", "{source}", escaped), source=source)


def append_into(
    spark: SparkSession,
    source: DataFrame,
    table: TableSpec,
    warehouse: str,
    *,
    data_files: int | None = None,
) -> MergeResult:
    """INSERT `source` into `table` in one commit; the caller guarantees its keys are new.

    `data_files` caps how many files the commit adds (the rows are coalesced last, so no later
    step spreads them out again).
    """
    location = table.location(warehouse)
    before = table_version(location)
    columns = with_new_columns(spark, table, location, source)
    view = f"append_source_{table.schema}_{table.name}"
    rows = source.select(*columns)
    if data_files is not None:
        rows = rows.coalesce(data_files)
    _before_commit(f"before:{table.qualified_name}")
    _insert(spark, table, columns, rows, view)
    fault_point(f"after:{table.qualified_name}")
    after, metrics = _committed(location, before)
    written = int(metrics.get("numOutputRows", 0))
    return MergeResult(table.qualified_name, before, after, written, written, 0, 0)


def _insert(
    spark: SparkSession, table: TableSpec, columns: list[str], rows: DataFrame, view: str
) -> None:
    column_list = ", ".join(f"`{c}`" for c in columns)
    _run_with_view(
        spark, f"INSERT INTO {table.qualified_name} SELECT {column_list} FROM {view}", rows, view
    )


def with_new_columns(
    spark: SparkSession, table: TableSpec, location: str, source: DataFrame
) -> list[str]:
    """The table's columns, after adding (nullable) those of `source` it lacks.

    A table created before its DDL gained a column (bronze's `_rescued_data`) gets it here,
    in its own commit, instead of the insert dropping the column's values.
    """
    columns = spark.table(table.qualified_name).columns
    missing = [field for field in source.schema.fields if field.name not in columns]
    if not missing:
        return columns
    added = StructType([StructField(f.name, f.dataType, nullable=True) for f in missing])
    fence.check()
    empty = spark.createDataFrame([], added).write.format("delta").mode("append")
    empty.option("mergeSchema", "true").save(location)
    spark.catalog.refreshTable(table.qualified_name)
    return spark.table(table.qualified_name).columns


def _committed(location: str, before: int | None) -> tuple[int | None, dict[str, Any]]:
    """The table's version after a write, and the metrics of its commits summed (none if it
    wrote nothing)."""
    drop_checkpoint_hint(location)
    return version_and_metrics(location, before)


def flagged_source(
    source: DataFrame,
    target: DataFrame,
    keys: tuple[str, ...],
    *,
    leaving: DataFrame | None,
    held: bool,
) -> DataFrame:
    """`source` as a scoped MERGE reads it: one row per key flagged kept (`DELETE_FLAG` false)
    and, if `held`, whether the target already holds its key (`HELD_FLAG`); plus, if `leaving`
    (a frame of some of the target's columns), a deletion marker for each target row matching
    it whose key `source` lacks.

    `source` is read twice: give it a copy (a run's content is one), not a chain of joins.
    """
    rows = kept(source, keys)
    if held:
        rows = with_held_flag(rows, target, keys)
    if leaving is None:
        return rows
    markers = deletion_markers(source.select(*keys), target, leaving, keys)
    if held:  # a marker's row is the target's own
        markers = markers.withColumn(HELD_FLAG, F.lit(True))
    return rows.unionByName(markers)


def deletion_markers(
    source_keys: DataFrame, target: DataFrame, scope: DataFrame, keys: tuple[str, ...]
) -> DataFrame:
    """A deletion marker (the key, other columns NULL, `DELETE_FLAG` set) for each target row
    that matches `scope` on its columns and whose key is not among `source_keys`.

    An anti-join of the in-scope keys: ranking the markers together with the source by key
    took half as long again (Sail, a 4.2M-row target)."""
    in_scope = target.join(scope.distinct(), list(scope.columns), "left_semi").select(*keys)
    doomed = in_scope.join(source_keys, list(keys), "left_anti")
    return doomed.select(
        *[
            F.col(field.name)
            if field.name in keys
            else F.lit(None).cast(field.dataType).alias(field.name)
            for field in target.schema.fields
        ],
        F.lit(True).alias(DELETE_FLAG),
    )


def kept(source: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """`source` flagged as kept, one row per key."""
    first = Window.partitionBy(*keys).orderBy(*keys)
    return (
        source.withColumn("_merge_rank", F.row_number().over(first))
        .where(F.col("_merge_rank") == 1)
        .drop("_merge_rank")
        .withColumn(DELETE_FLAG, F.lit(False))
    )


def with_held_flag(rows: DataFrame, target: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """`rows` with `HELD_FLAG`: whether the target already holds the row's key."""
    held = target.select(*keys).withColumn(HELD_FLAG, F.lit(True))
    flag = F.coalesce(F.col(HELD_FLAG), F.lit(False)).alias(HELD_FLAG)
    return rows.join(held, list(keys), "left").select(*rows.columns, flag)


def merge_statement(
    table: TableSpec,
    columns: list[str],
    view: str,
    *,
    delete_unmatched: bool = False,
    flagged: bool = False,
) -> str:
    """The MERGE statement; content-keyed tables get no update clause (see `TableSpec`)."""
    on = _matching_keys(table)
    values = [c for c in columns if c not in table.keys]
    clauses = []
    if flagged:
        clauses.append(f"WHEN MATCHED AND s.`{DELETE_FLAG}` THEN DELETE")
    if values and not table.content_keyed:
        unchanged = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in values)
        assignments = ", ".join(f"`{c}` = s.`{c}`" for c in values)
        clauses.append(f"WHEN MATCHED AND NOT ({unchanged}) THEN UPDATE SET {assignments}")
    column_list = ", ".join(f"`{c}`" for c in columns)
    source_list = ", ".join(f"s.`{c}`" for c in columns)
    insert_when = f" AND NOT s.`{DELETE_FLAG}`" if flagged else ""
    clauses.append(
        f"WHEN NOT MATCHED{insert_when} THEN INSERT ({column_list}) VALUES ({source_list})"
    )
    if delete_unmatched:
        clauses.append("WHEN NOT MATCHED BY SOURCE THEN DELETE")
    return f"MERGE INTO {table.qualified_name} t USING {view} s ON {on}\n" + "\n".join(clauses)


def delete_statement(table: TableSpec, view: str) -> str:
    """The MERGE that deletes the rows whose keys `view` holds (its only columns)."""
    on = _matching_keys(table)
    return f"MERGE INTO {table.qualified_name} t USING {view} s ON {on}\nWHEN MATCHED THEN DELETE"


def _matching_keys(table: TableSpec) -> str:
    return " AND ".join(f"t.`{key}` = s.`{key}`" for key in table.keys)

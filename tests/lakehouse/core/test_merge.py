"""MERGE into content-keyed tables: deletions then inserts, no update clause, idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse.core.catalog import TableSpec, ensure_properties, ensure_table
from lakehouse.core.delta_log import delta_table, may_hold_deletion_vectors
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, InjectedFault
from lakehouse.core.merge import MergeResult, delete_statement, merge_into, merge_statement
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED
from tests.helpers import rows

COLUMNS = ["reading_id", "user", "timestamp", "x", "y", "z"]
SCHEMA = "reading_id STRING, user STRING, timestamp BIGINT, x DOUBLE, y DOUBLE, z DOUBLE"


def test_only_tables_whose_rows_can_change_get_an_update_clause() -> None:
    content_keyed = merge_statement(ACCELEROMETER_TRUSTED, COLUMNS, "s", flagged=True)
    assert "UPDATE" not in content_keyed
    assert "WHEN MATCHED AND s.`_merge_delete` THEN DELETE" in content_keyed
    assert "WHEN NOT MATCHED AND NOT s.`_merge_delete` THEN INSERT" in content_keyed
    customers = merge_statement(CUSTOMER_TRUSTED, ["email", "phone"], "s")
    assert "WHEN MATCHED AND NOT (t.`phone` <=> s.`phone`) THEN UPDATE" in customers
    delete_only = delete_statement(ACCELEROMETER_TRUSTED, "s")
    assert delete_only.endswith("ON t.`reading_id` = s.`reading_id`\nWHEN MATCHED THEN DELETE")


@pytest.mark.parametrize("deletion_vectors", [False, True], ids=["rewrites", "deletion-vectors"])
def test_scoped_merge_deletes_then_inserts_and_reruns_write_nothing(
    spark: SparkSession, tmp_path: Path, deletion_vectors: bool
) -> None:
    table: TableSpec = ACCELEROMETER_TRUSTED
    warehouse = str(tmp_path)
    ensure_table(spark, table, warehouse, deletion_vectors=deletion_vectors)

    def readings(*items: tuple[str, str, int]) -> DataFrame:
        return spark.createDataFrame(
            [(rid, user, time, 1.0, 2.0, 3.0) for rid, user, time in items], SCHEMA
        )

    def merge(source: DataFrame, *users: str) -> MergeResult:
        scope = spark.createDataFrame([(u,) for u in users], "user STRING")
        return merge_into(spark, source, table, warehouse, scope=scope)

    # Batch 1: customers a and b.
    merge(readings(("r1", "a", 1), ("r2", "a", 2), ("r3", "b", 3)), "a", "b")
    # Batch 2: a withdrew (no rows for a), b has a new reading, c is new.
    batch_2 = readings(("r3", "b", 3), ("r4", "b", 4), ("r5", "c", 5))
    second = merge(batch_2, "a", "b", "c")

    assert rows(spark.table(table.qualified_name), "reading_id", "user") == [
        ("r3", "b"),
        ("r4", "b"),
        ("r5", "c"),
    ]
    assert (second.inserted, second.updated, second.deleted) == (2, 0, 2)
    assert second.source_rows == 3
    history = delta_table(table.location(warehouse)).history()
    newest_first = [commit["operation"] for commit in history]
    assert newest_first[:2] == ["WRITE", "MERGE"]  # the deletions, then the new rows appended
    assert second.version_after == second.version_before + 2  # type: ignore[operator]
    deletion = commit_actions(Path(warehouse) / "silver" / "accelerometer_trusted", history[1])
    if deletion_vectors:  # rows marked deleted: the file that held them was not rewritten
        assert deletion["add"] and all(add.get("deletionVector") for add in deletion["add"])
        assert {a["path"] for a in deletion["add"]} == {r["path"] for r in deletion["remove"]}
    else:  # the file rewritten without them; readers need no deletionVectors feature
        assert not any(add.get("deletionVector") for add in deletion["add"])
        assert not {a["path"] for a in deletion["add"]} & {r["path"] for r in deletion["remove"]}
        assert delta_table(table.location(warehouse)).protocol().min_reader_version == 1
    assert may_hold_deletion_vectors(table.location(warehouse)) is deletion_vectors

    again = merge(batch_2, "a", "b", "c")
    assert not again.committed
    assert (again.inserted, again.deleted) == (0, 0)


def commit_actions(location: Path, commit: dict[str, object]) -> dict[str, list[dict[str, Any]]]:
    """The `add` and `remove` actions of one commit of a table's log."""
    actions: dict[str, list[dict[str, Any]]] = {"add": [], "remove": []}
    log = location / "_delta_log" / f"{int(str(commit['version'])):020d}.json"
    for line in log.read_text().splitlines():
        action = json.loads(line)
        for kind, found in actions.items():
            if kind in action:
                found.append(action[kind])
    return actions


def test_deletion_vectors_turned_off_stop_new_ones_and_the_table_still_counts_as_holding_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    table: TableSpec = ACCELEROMETER_TRUSTED
    warehouse = str(tmp_path)
    location = table.location(warehouse)
    ensure_table(spark, table, warehouse, deletion_vectors=True)
    three = spark.createDataFrame([(f"r{i}", f"u{i}", i, 1.0, 2.0, 3.0) for i in range(3)], SCHEMA)
    users = spark.createDataFrame([("u0",), ("u1",), ("u2",)], "user STRING")
    merge_into(spark, three, table, warehouse, scope=users)
    merge_into(spark, three.where("user != 'u0'"), table, warehouse, scope=users)

    assert ensure_properties(spark, table, warehouse, deletion_vectors=False)
    assert not ensure_properties(spark, table, warehouse, deletion_vectors=False)
    merge_into(spark, three.where("user = 'u2'"), table, warehouse, scope=users)
    newest = delta_table(location).history()[0]
    assert newest["operation"] == "MERGE"
    assert not any(
        add.get("deletionVector") for add in commit_actions(Path(location), newest)["add"]
    )
    assert rows(spark.table(table.qualified_name), "reading_id") == [("r2",)]
    # u0's row may still sit in a file behind a deletion vector: erasure and vacuum must know.
    assert may_hold_deletion_vectors(location)


def test_a_table_made_before_its_ddl_named_deletion_vectors_needs_no_change(
    spark: SparkSession, tmp_path: Path
) -> None:
    warehouse = str(tmp_path)
    ensure_table(spark, ACCELEROMETER_TRUSTED, warehouse)
    unset = "UNSET TBLPROPERTIES ('delta.enableDeletionVectors')"
    spark.sql(f"ALTER TABLE silver.accelerometer_trusted {unset}")
    configuration = delta_table(ACCELEROMETER_TRUSTED.location(warehouse)).metadata().configuration
    assert "delta.enableDeletionVectors" not in configuration
    assert not ensure_properties(spark, ACCELEROMETER_TRUSTED, warehouse)


def test_a_merge_cut_off_between_deletions_and_inserts_leaves_nothing_that_should_go(  # type: ignore[no-untyped-def]
    spark: SparkSession, tmp_path: Path, monkeypatch
):
    table: TableSpec = ACCELEROMETER_TRUSTED
    warehouse = str(tmp_path)
    ensure_table(spark, table, warehouse)
    first = spark.createDataFrame(
        [("r1", "a", 1, 1.0, 2.0, 3.0), ("r2", "b", 2, 1.0, 2.0, 3.0)], SCHEMA
    )
    second = spark.createDataFrame(
        [("r2", "b", 2, 1.0, 2.0, 3.0), ("r3", "b", 3, 1.0, 2.0, 3.0)], SCHEMA
    )
    scope = spark.createDataFrame([("a",), ("b",)], "user STRING")
    merge_into(spark, first, table, warehouse, scope=scope)

    with monkeypatch.context() as patch:
        patch.setenv(FAULT_ENV, f"between:{table.qualified_name}")
        patch.setenv(ACTION_ENV, "raise")
        with pytest.raises(InjectedFault):
            merge_into(spark, second, table, warehouse, scope=scope)
    # a's withdrawn reading is gone; b's new reading is not in yet.
    assert rows(spark.table(table.qualified_name), "reading_id") == [("r2",)]

    merge_into(spark, second, table, warehouse, scope=scope)
    assert rows(spark.table(table.qualified_name), "reading_id") == [("r2",), ("r3",)]

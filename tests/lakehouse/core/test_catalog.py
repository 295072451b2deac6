from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from bronze.tables import CUSTOMER_LANDING
from lakehouse.core.catalog import attach_warehouse, ensure_table
from lakehouse.core.merge import merge_into
from silver.tables import CUSTOMER_TRUSTED
from tests.helpers import rows


def test_a_name_follows_the_warehouse_it_was_last_attached_to(
    spark: SparkSession, tmp_path: Path
) -> None:
    first, second = str(tmp_path / "one"), str(tmp_path / "two")
    ensure_table(spark, CUSTOMER_LANDING, first)
    schema = spark.table(CUSTOMER_LANDING.qualified_name).schema
    row = {field.name: None for field in schema} | {
        "email": "a@x",
        "_source_file": "f",
        "_source_checksum": "c",
        "_source_line": 1,
    }
    merge_into(spark, spark.createDataFrame([row], schema), CUSTOMER_LANDING, first)
    ensure_table(spark, CUSTOMER_LANDING, second)
    assert spark.table("bronze.customer_landing").count() == 0

    assert attach_warehouse(spark, first) == ["bronze.customer_landing"]
    assert rows(spark.table("bronze.customer_landing"), "email") == [("a@x",)]


def test_merge_updates_only_changed_rows_and_can_delete_the_rest(
    spark: SparkSession, tmp_path: Path
) -> None:
    table = CUSTOMER_TRUSTED
    warehouse = str(tmp_path)
    ensure_table(spark, table, warehouse)
    schema = spark.table(table.qualified_name).schema

    def merge(*people: tuple[str, str], delete: bool = True):  # type: ignore[no-untyped-def]
        empty = {field.name: None for field in schema}
        people_rows = [empty | {"email": e, "customerName": n} for e, n in people]
        source = spark.createDataFrame(people_rows, schema)
        return merge_into(spark, source, table, warehouse, delete_unmatched=delete)

    first = merge(("a@x", "A"), ("b@x", "B"))
    assert (first.inserted, first.updated, first.deleted, first.version_after) == (2, 0, 0, 1)
    second = merge(("a@x", "A"), ("b@x", "Bee"), ("c@x", "C"))
    assert (second.inserted, second.updated, second.deleted) == (1, 1, 0)
    third = merge(("a@x", "A"), ("c@x", "C"))
    assert (third.inserted, third.updated, third.deleted) == (0, 0, 1)
    again = merge(("a@x", "A"), ("c@x", "C"))
    assert not again.committed and again.version_after == 3
    assert rows(spark.table(table.qualified_name), "email", "customerName") == [
        ("a@x", "A"),
        ("c@x", "C"),
    ]

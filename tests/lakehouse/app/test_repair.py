"""`lakehouse repair`: a warehouse two writers damaged is made whole again."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.tables import TABLES
from lakehouse.core.catalog import attach_warehouse

pytestmark = pytest.mark.slow

DAMAGED = ("silver.customer_trusted", "gold.machine_learning_curated")


def test_repair_then_run_undo_what_two_writers_at_once_left(  # type: ignore[no-untyped-def]
    spark: SparkSession, tmp_path: Path
):
    given = [f"paths.landing={tmp_path / 'landing'}", f"paths.warehouse={tmp_path / 'warehouse'}"]
    assert main(["generate", "--customers", "20", "--readings-per-customer", "5", *given]) == 0
    assert main(["run", *given]) == 0
    attach_warehouse(spark, str(tmp_path / "warehouse"))
    expected = {name: sorted(spark.table(name).collect()) for name in DAMAGED}
    # A second run that bypassed the lock MERGEd the same new rows again: each is there twice.
    for name in DAMAGED:
        spark.sql(f"INSERT INTO {name} SELECT * FROM {name}")
        assert spark.table(name).count() == 2 * len(expected[name])

    assert main(["repair", *given]) == 0
    assert main(["run", *given]) == 0
    assert main(["test", *given]) == 0

    attach_warehouse(spark, str(tmp_path / "warehouse"))
    for name in DAMAGED:
        assert sorted(spark.table(name).collect()) == expected[name]
    keyed = {table.qualified_name: table.keys for table in TABLES}
    for name in DAMAGED:
        table = spark.table(name)
        assert table.count() == table.select(*keyed[name]).distinct().count()
    # Nothing repeats any more: a second repair changes nothing.
    assert main(["repair", *given]) == 0

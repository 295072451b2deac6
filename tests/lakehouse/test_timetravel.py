"""As-of queries, diffs, restore then run, and vacuum, after a known sequence of runs."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.cli import main
from lakehouse.pipeline import run_pipeline
from lakehouse.timetravel import AsOf, AsOfError, diff_versions, resolve_as_of, rewrite_query
from tests.conftest import rows
from tests.lakehouse.test_consent_changes import (
    held,
    land_a_and_b,
    run_then_withdraw_a,
    withdraw_a,
)


def overrides(config) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]


def test_rewrite_adds_the_clause_once_to_known_tables() -> None:
    as_of = AsOf("VERSION AS OF 1", "version 1")
    query = (
        "SELECT * FROM silver.customer_trusted t JOIN gold.customer_curated VERSION AS OF 2 g "
        "ON t.email = g.email WHERE t.email <> 'silver.customer_trusted_x'"
    )
    assert rewrite_query(query, ["silver.customer_trusted", "gold.customer_curated"], as_of) == (
        "SELECT * FROM silver.customer_trusted VERSION AS OF 1 t JOIN gold.customer_curated "
        "VERSION AS OF 2 g ON t.email = g.email WHERE t.email <> 'silver.customer_trusted_x'"
    )


def test_as_of_reads_and_diffs_return_exactly_the_earlier_contents(
    spark: SparkSession, make_config, capsys
):  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    first, _ = run_pipeline(spark, config)
    before = rows(spark.table("silver.accelerometer_trusted"))
    withdraw_a(config)
    second, _ = run_pipeline(spark, config)
    assert rows(spark.table("silver.accelerometer_trusted")) == []

    for point in ("1", first):
        as_of = resolve_as_of(spark, config.paths.warehouse, point)
        query = rewrite_query(
            "SELECT * FROM silver.accelerometer_trusted", ["silver.accelerometer_trusted"], as_of
        )
        assert rows(spark.sql(query)) == before
    with pytest.raises(AsOfError):
        resolve_as_of(spark, config.paths.warehouse, "no-such-run")

    diff = diff_versions(
        spark,
        "silver.accelerometer_trusted",
        resolve_as_of(spark, config.paths.warehouse, first),
        resolve_as_of(spark, config.paths.warehouse, second),
    )
    assert diff.added.count() == 0 and rows(diff.removed) == before

    assert (
        main(
            [
                "sql",
                "SELECT count(*) AS n FROM gold.customer_curated",
                "--as-of",
                first,
                "--format",
                "csv",
                *overrides(config),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["n", "1"]
    assert main(["diff", "gold.machine_learning_curated", "1", "2", *overrides(config)]) == 0
    out = capsys.readouterr().out
    assert "added: 0 rows" in out and "removed: 2 rows" in out


def test_restore_then_run_brings_the_table_forward(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    run_then_withdraw_a(spark, config)
    after_withdrawal = held(spark)

    assert main(["restore", "silver.accelerometer_trusted", "1", *overrides(config)]) == 0
    assert "restored to version 1 as version 3" in capsys.readouterr().out
    assert rows(spark.table("silver.accelerometer_trusted"), "user") == [("a@x",), ("a@x",)]
    assert main(["restore", "bronze.customer_landing", "1", *overrides(config)]) == 0
    assert main(["restore", "bronze.customer_landing", "99", *overrides(config)]) == 1

    run_pipeline(spark, config)
    assert held(spark) == after_withdrawal
    assert rows(spark.table("bronze.customer_landing"), "email", "lastUpdateDate") == [
        ("a@x", 100),
        ("a@x", 200),
        ("b@x", 100),
    ]
    commands = rows(spark.table("ops.runs"), "command", "status")
    assert commands.count(("restore", "succeeded")) == 2 and ("restore", "failed") in commands


def test_vacuum_reports_what_it_deleted(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    run_then_withdraw_a(spark, config)
    assert main(["vacuum", "--retain-hours", "0", *overrides(config)]) == 0
    out = capsys.readouterr().out
    assert "silver.accelerometer_trusted" in out and "time travel now reaches back 0 hours" in out
    assert rows(spark.table("silver.accelerometer_trusted")) == []

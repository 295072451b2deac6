"""The consent audit passes on a clean warehouse and names rows tampered into it."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.audit import consent_violations
from lakehouse.app.cli import main
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from tests.helpers import overrides, run_then_withdraw_a

pytestmark = pytest.mark.slow


def test_clean_warehouses_pass(spark: SparkSession, make_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for cutoff in ("true", "false"):
        config = make_config(
            f"privacy.consent_cutoff={cutoff}", f"paths.warehouse={tmp_path / cutoff}"
        )
        generate(tmp_path / "landing", GenerateOptions(customers=40, readings_per_customer=8))
        run_pipeline(spark, config)
        assert consent_violations(spark, config) == []


def test_tampered_rows_are_named_now_but_not_as_of_before(
    spark: SparkSession, make_config, capsys
) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    run_then_withdraw_a(spark, config)
    assert main(["audit", "consent", *overrides(config)]) == 0
    capsys.readouterr()
    # Tampering: B never consented; A's reading at 500 predates consent; A withdrew since.
    spark.sql(
        "INSERT INTO silver.accelerometer_trusted VALUES "
        "('x1', 'b@x', 1600, 1.6, 1.0, -1.0), ('x2', 'a@x', 500, 0.5, 1.0, -1.0)"
    )
    found = {v.table: v for v in consent_violations(spark, config)}
    assert list(found) == ["silver.accelerometer_trusted"]
    assert found["silver.accelerometer_trusted"].rows == 2
    assert sorted(found["silver.accelerometer_trusted"].sample) == ["x1", "x2"]

    assert main(["audit", "consent", *overrides(config)]) == 1
    assert "VIOLATIONS" in capsys.readouterr().out
    # As of the first run A still consented, and nothing was tampered with yet.
    first_run = spark.table("ops.runs").orderBy("started_at").first()["run_id"]
    assert main(["audit", "consent", "--as-of", first_run, *overrides(config)]) == 0
    assert main(["audit", "consent", "--as-of", "1", *overrides(config)]) == 1  # one table's

"""Erase + vacuum: no data file in the warehouse holds the customer afterwards."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from lakehouse.cli import main
from lakehouse.erasure import customer_key, email_digest
from lakehouse.pipeline import run_pipeline
from tests.conftest import rows
from tests.lakehouse.test_consent_changes import NOBODY, held, land, land_a_and_b, reading, step
from tests.lakehouse.test_timetravel import overrides


def values_in_data_files(warehouse: Path) -> set[object]:
    """Every value of every Parquet data file in the warehouse, old versions included."""
    found: set[object] = set()
    for path in warehouse.rglob("*.parquet"):
        for column in pq.read_table(path).columns:
            found.update(
                v if isinstance(v, str | int | float) else repr(v) for v in column.to_pylist()
            )
    return found


def test_erase_and_vacuum_leave_no_trace(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    land(config, "accelerometer", "bad.json", reading("a@x", 1), '{"user": "a@x", "x": oops')  # type: ignore[arg-type]
    run_pipeline(spark, config)
    land(config, "step_trainer", "s2.json", step(3000))
    run_pipeline(spark, config)
    key = customer_key(config.privacy.pseudonym_salt, "a@x")
    warehouse = Path(config.paths.warehouse)
    assert {"a@x", key} <= values_in_data_files(warehouse)

    assert main(["erase", "--email", "a@x", "--retain-hours", "0", *overrides(config)]) == 0
    out = capsys.readouterr().out
    assert "accelerometer_trusted" in out and "the landing zone still holds" in out

    assert held(spark) == NOBODY
    assert rows(spark.table("bronze.customer_landing"), "email") == [("b@x",)]
    assert rows(spark.table("bronze.step_trainer_landing"), "sensorReadingTime") == [
        (1600,),
        (2600,),
        (3000,),
    ]
    found = values_in_data_files(warehouse)
    assert not {"a@x", key} & found
    assert not any(isinstance(v, str) and "a@x" in v for v in found)
    ledger = rows(spark.table("ops.runs"), "command", "target")
    assert ("erase", email_digest("a@x")) in ledger

    # The erasure sticks: the next run does not bring the customer back from the landing zone.
    run_pipeline(spark, config)
    assert rows(spark.table("bronze.customer_landing"), "email") == [("b@x",)]

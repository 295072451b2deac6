"""Consent granted, withdrawn or moved later, and late data: checked row by row.

Customers A and B share serial number S (the fulfilment bug). A consents at t=1000; B does
not. A's phone reads at 500, 1500 and 2500, B's at 1600 and 2600; the step trainer with serial
S reads at every one of those moments.
"""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.context import TableResult
from tests.helpers import customer, held, land, land_a_and_b, reading, step, withdraw_a

pytestmark = pytest.mark.slow

SILVER_AND_GOLD = (
    "silver.customer_trusted",
    "silver.accelerometer_trusted",
    "silver.step_trainer_trusted",
    "gold.customer_curated",
    "gold.machine_learning_curated",
)


ONLY_A_AFTER_CONSENT = {
    "customers": [("a@x",)],
    "accelerometer": [("a@x", 1500), ("a@x", 2500)],
    # 1600 and 2600 are B's moments on the shared serial: never A's.
    "steps": [(1500,), (2500,)],
    "curated": [("a@x",)],
    "ml": [("a@x", 1500), ("a@x", 2500)],
}
NOBODY: dict[str, list[tuple[Any, ...]]] = {
    key: [] for key in ("customers", "accelerometer", "steps", "curated", "ml")
}


def deleted(results: list[TableResult]) -> dict[str, int]:
    return {r.table: r.deleted for r in results if r.table in SILVER_AND_GOLD}


def test_first_run_keeps_only_a_after_consent(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)
    assert held(spark) == ONLY_A_AFTER_CONSENT


def test_withdrawn_consent_leaves_every_table_and_is_reported(
    spark: SparkSession, make_config
) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)

    withdraw_a(config)
    _, results = run_pipeline(spark, config)

    assert held(spark) == NOBODY
    assert deleted(results) == {
        "silver.customer_trusted": 1,
        "silver.accelerometer_trusted": 2,
        "silver.step_trainer_trusted": 2,
        "gold.customer_curated": 1,
        "gold.machine_learning_curated": 2,
    }


def test_consent_moved_later_drops_the_readings_before_it(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)

    land(config, "customer", "c2.json", customer("a@x", 200, 2000))
    _, results = run_pipeline(spark, config)

    assert held(spark) == {
        "customers": [("a@x",)],
        "accelerometer": [("a@x", 2500)],
        "steps": [(2500,)],
        "curated": [("a@x",)],
        "ml": [("a@x", 2500)],
    }
    assert deleted(results) == {
        "silver.customer_trusted": 0,
        "silver.accelerometer_trusted": 1,
        "silver.step_trainer_trusted": 1,
        "gold.customer_curated": 0,
        "gold.machine_learning_curated": 1,
    }


def test_consent_granted_later_brings_in_already_landed_readings(
    spark: SparkSession, make_config
) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)

    land(config, "customer", "c2.json", customer("b@x", 200, 2000))
    run_pipeline(spark, config)

    assert held(spark) == {
        "customers": [("a@x",), ("b@x",)],
        "accelerometer": [("a@x", 1500), ("a@x", 2500), ("b@x", 2600)],
        # B's 1600 reading predates B's consent, so the step at 1600 stays out.
        "steps": [(1500,), (2500,), (2600,)],
        "curated": [("a@x",), ("b@x",)],
        "ml": [("a@x", 1500), ("a@x", 2500), ("b@x", 2600)],
    }


def test_the_shared_serial_never_lets_a_non_consenting_customer_in(
    spark: SparkSession, make_config
) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)
    # B records more readings; S reads at the same moments. A still consents.
    land(config, "accelerometer", "a2.json", reading("b@x", 3000))
    land(config, "step_trainer", "s2.json", step(3000))
    run_pipeline(spark, config)
    assert (3000,) not in held(spark)["steps"]
    assert ("a@x", 3000) not in held(spark)["ml"]


def test_late_and_out_of_order_data_ends_up_correct(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    # Readings first, then the step of a later moment, then its reading, then the customers.
    readings = [reading("a@x", t) for t in (500, 1500)]
    land(config, "accelerometer", "a1.json", *readings, reading("b@x", 1600))
    land(config, "step_trainer", "s1.json", *[step(t) for t in (500, 1500, 1600)])
    run_pipeline(spark, config)
    assert held(spark)["accelerometer"] == []

    land(config, "step_trainer", "s2.json", step(2500))
    run_pipeline(spark, config)
    land(config, "accelerometer", "a0.json", reading("a@x", 2500))  # an older-looking name
    run_pipeline(spark, config)
    land(config, "customer", "c1.json", customer("a@x", 100, 1000), customer("b@x", 100, None))
    run_pipeline(spark, config)

    assert held(spark) == ONLY_A_AFTER_CONSENT

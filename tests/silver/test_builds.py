"""silver.job's build factories: what each trusted table holds for an increment, and its scope.

One tiny lake of two batches. Batch 1 lands customers a, b, c (no consent), e, f and g with
their readings; batch 2 brings b's withdrawal, a new customer d, a late and older record of e
(which changes nothing), new phone readings of a, c and f, and new steps at 30 (a) and 9 (c).
Changed in batch 2: b, d, e.
"""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING
from lakehouse.core.increments import Increment
from silver.job import (
    accelerometer_trusted_build,
    customer_trusted_build,
    step_trainer_trusted_build,
    touched_and_leaving_moments,
)
from silver.transforms import trusted_accelerometer, trusted_customers, trusted_step_trainer
from tests.helpers import (
    Lake,
    landed_customer,
    landed_reading,
    landing_frame,
    moments,
    one_column,
    only,
    two_batch_lake,
)

SALT = "test-salt"
FULL = Increment(None, 2)
AFTER_FIRST = Increment(1, 2)


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> Lake:
    return two_batch_lake(spark, SALT)


# customer_trusted_build


def test_customer_trusted_full_build_is_the_rule_over_every_record(lake: Lake) -> None:
    content, _ = customer_trusted_build(lake.customer_landing, SALT)(FULL)
    assertDataFrameEqual(content, lake.customer_landing.transform(trusted_customers(SALT)))


def test_customer_trusted_full_build_scope_is_every_customer(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = customer_trusted_build(lake.customer_landing, SALT)(FULL)
    everyone = one_column(spark, "email", "a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x")
    assertDataFrameEqual(scope, everyone)


def test_customer_trusted_incremental_build_recomputes_the_changed_customers(lake: Lake) -> None:
    # e@x from all its records (batch 1's is still the latest); b@x withdrew, so it is absent.
    content, _ = customer_trusted_build(lake.customer_landing, SALT)(AFTER_FIRST)
    full, _ = customer_trusted_build(lake.customer_landing, SALT)(FULL)
    assertDataFrameEqual(content, only(full, "email", ["d@x", "e@x"]))


def test_customer_trusted_incremental_scope_is_the_changed_customers(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = customer_trusted_build(lake.customer_landing, SALT)(AFTER_FIRST)
    assertDataFrameEqual(scope, one_column(spark, "email", "b@x", "d@x", "e@x"))


# accelerometer_trusted_build


def accelerometer_build(lake: Lake, increment: Increment) -> tuple[DataFrame, DataFrame]:
    build = accelerometer_trusted_build(
        lake.customer_landing, lake.phone_landing, lake.customer_trusted, consent_cutoff=True
    )
    return build(increment)


def test_accelerometer_trusted_full_build_is_the_rule_over_every_reading(lake: Lake) -> None:
    content, _ = accelerometer_build(lake, FULL)
    rule = trusted_accelerometer(lake.customer_trusted, consent_cutoff=True)
    assertDataFrameEqual(content, lake.phone_landing.transform(rule))


def test_accelerometer_trusted_full_build_scope_is_every_customer(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = accelerometer_build(lake, FULL)
    everyone = one_column(spark, "user", "a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x")
    assertDataFrameEqual(scope, everyone)


def test_accelerometer_trusted_incremental_build_holds_the_touched_readings(lake: Lake) -> None:
    # New readings of unchanged a@x and f@x (20, 40), older ones of changed d@x and e@x (5, 8);
    # c@x's new reading and withdrawn b@x's are touched but not trusted.
    content, _ = accelerometer_build(lake, AFTER_FIRST)
    full, _ = accelerometer_build(lake, FULL)
    assertDataFrameEqual(content, only(full, "timestamp", [20, 40, 5, 8]))


def test_accelerometer_trusted_incremental_scope_is_the_changed_customers(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = accelerometer_build(lake, AFTER_FIRST)
    assertDataFrameEqual(scope, one_column(spark, "user", "b@x", "d@x", "e@x"))


@pytest.mark.parametrize(("consent_cutoff", "kept"), [(True, [18]), (False, [12, 18])])
def test_accelerometer_trusted_build_applies_the_consent_cutoff_setting(
    spark: SparkSession, consent_cutoff: bool, kept: list[int]
) -> None:
    customers = landing_frame(
        spark, CUSTOMER_LANDING, [landed_customer("h@x", "s8", 1, consent=15)]
    )
    phone = landing_frame(
        spark, ACCELEROMETER_LANDING, [landed_reading("h@x", 12, 1), landed_reading("h@x", 18, 1)]
    )
    trusted = customers.transform(trusted_customers(SALT))
    build = accelerometer_trusted_build(customers, phone, trusted, consent_cutoff=consent_cutoff)
    content, _ = build(FULL)
    times = spark.createDataFrame([(time,) for time in kept], "timestamp BIGINT")
    assertDataFrameEqual(content.select("timestamp"), times)


# step_trainer_trusted_build


def step_build(lake: Lake, increment: Increment) -> tuple[DataFrame, DataFrame]:
    build = step_trainer_trusted_build(
        lake.customer_landing,
        lake.phone_landing,
        lake.step_landing,
        lake.customer_trusted,
        lake.accelerometer_trusted,
    )
    return build(increment)


def test_step_trainer_trusted_full_build_is_the_rule_over_every_step(lake: Lake) -> None:
    content, _ = step_build(lake, FULL)
    rule = trusted_step_trainer(lake.customer_trusted, lake.accelerometer_trusted)
    assertDataFrameEqual(content, lake.step_landing.transform(rule))


def test_step_trainer_trusted_full_build_scope_is_every_step_moment(lake: Lake) -> None:
    _, scope = step_build(lake, FULL)
    assertDataFrameEqual(scope, lake.step_landing.select("serialNumber", "sensorReadingTime"))


def test_step_trainer_trusted_incremental_build_holds_the_touched_steps(lake: Lake) -> None:
    # A new step (30); steps at moments of new phone readings of unchanged customers (20, 40);
    # older steps of changed customers (5, 8). Not 10 nor 50: nothing touched their moments.
    content, _ = step_build(lake, AFTER_FIRST)
    full, _ = step_build(lake, FULL)
    assertDataFrameEqual(content, only(full, "sensorReadingTime", [30, 20, 40, 5, 8]))


def test_step_trainer_trusted_incremental_scope_is_the_changed_customers_moments(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = step_build(lake, AFTER_FIRST)
    assertDataFrameEqual(scope, moments(spark, ("s2", 7), ("s4", 5), ("s5", 8)))


# touched_and_leaving_moments


def test_touched_moments_are_of_new_readings_and_changed_customers_readings(
    spark: SparkSession, lake: Lake
) -> None:
    touched, _ = touched_and_leaving_moments(lake.customer_landing, lake.phone_landing, 1)
    expected = moments(spark, ("s1", 20), ("s3", 21), ("s6", 40), ("s2", 7), ("s4", 5), ("s5", 8))
    assertDataFrameEqual(touched, expected)


def test_leaving_moments_are_only_the_changed_customers_readings(
    spark: SparkSession, lake: Lake
) -> None:
    _, leaving = touched_and_leaving_moments(lake.customer_landing, lake.phone_landing, 1)
    assertDataFrameEqual(leaving, moments(spark, ("s2", 7), ("s4", 5), ("s5", 8)))


def test_touched_moments_without_a_since_batch_are_every_readings_moment(
    spark: SparkSession, lake: Lake
) -> None:
    touched, _ = touched_and_leaving_moments(lake.customer_landing, lake.phone_landing, None)
    expected = moments(
        spark,
        *[("s1", 10), ("s1", 20), ("s1", 30), ("s2", 7), ("s3", 9), ("s3", 21)],
        *[("s4", 5), ("s5", 8), ("s6", 40), ("s7", 50)],
    )
    assertDataFrameEqual(touched, expected)


def test_moments_of_a_changed_customer_cover_every_serial_it_had(spark: SparkSession) -> None:
    customers = landing_frame(
        spark,
        CUSTOMER_LANDING,
        [landed_customer("h@x", "s8", 1), landed_customer("h@x", "s9", 2, updated=2)],
    )
    phone = landing_frame(spark, ACCELEROMETER_LANDING, [landed_reading("h@x", 60, 1)])
    touched, leaving = touched_and_leaving_moments(customers, phone, 1)
    under_both = moments(spark, ("s8", 60), ("s9", 60))
    assertDataFrameEqual(touched, under_both)
    assertDataFrameEqual(leaving, under_both)

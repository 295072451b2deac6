"""gold.job's build factories: what each curated table holds for an increment, and its scope.

The lake of tests/silver/test_builds.py, with its silver tables. Batch 1 lands customers a, b,
c (no consent), e, f and g with their readings; batch 2 brings b's withdrawal, a new customer
d, a late and older record of e (which changes nothing), new phone readings of a, c and f (f's
first), and new steps at 30 (a) and 9 (c). Changed in batch 2: b, d, e.
"""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from gold.job import customer_curated_build, machine_learning_curated_build
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.core.increments import Increment
from tests.expected import pseudonym
from tests.helpers import Lake, one_column, only, two_batch_lake

SALT = "test-salt"
FULL = Increment(None, 2)
AFTER_FIRST = Increment(1, 2)
EVERYONE = ("a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x")
CHANGED = ("b@x", "d@x", "e@x")


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> Lake:
    return two_batch_lake(spark, SALT)


# customer_curated_build


def curated_build(lake: Lake, increment: Increment) -> tuple[DataFrame, DataFrame]:
    build = customer_curated_build(
        lake.customer_landing, lake.phone_landing, lake.customer_trusted, lake.accelerometer_trusted
    )
    return build(increment)


def test_customer_curated_full_build_is_every_trusted_customer_with_readings(lake: Lake) -> None:
    content, _ = curated_build(lake, FULL)
    rule = customers_with_readings(lake.accelerometer_trusted)
    assertDataFrameEqual(content, lake.customer_trusted.transform(rule))


def test_customer_curated_full_build_scope_is_every_customer(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = curated_build(lake, FULL)
    assertDataFrameEqual(scope, one_column(spark, "email", *EVERYONE))


def test_customer_curated_incremental_build_holds_the_touched_customers(lake: Lake) -> None:
    # Changed d@x and e@x (through their older readings), a@x and f@x through new readings
    # (f@x's first: it enters). Not g@x: nothing new of it; not c@x, b@x: not trusted.
    # Column order aside: the incremental content comes out of a semi-join USING `email`, which
    # puts `email` first (the MERGE selects the table's columns by name).
    content, _ = curated_build(lake, AFTER_FIRST)
    full, _ = curated_build(lake, FULL)
    expected = only(full, "email", ["a@x", "d@x", "e@x", "f@x"])
    assertDataFrameEqual(content, expected, ignoreColumnOrder=True)


def test_customer_curated_incremental_scope_is_only_the_changed_customers(
    spark: SparkSession, lake: Lake
) -> None:
    # A new reading adds a customer but never removes one: a@x and f@x are not in scope.
    _, scope = curated_build(lake, AFTER_FIRST)
    assertDataFrameEqual(scope, one_column(spark, "email", *CHANGED))


# machine_learning_curated_build


def ml_build(lake: Lake, increment: Increment) -> tuple[DataFrame, DataFrame]:
    build = machine_learning_curated_build(
        lake.customer_landing,
        lake.phone_landing,
        lake.step_landing,
        lake.step_trainer_trusted,
        lake.customer_trusted,
        lake.accelerometer_trusted,
        salt=SALT,
    )
    return build(increment)


def keys(spark: SparkSession, *people: str) -> DataFrame:
    return spark.createDataFrame([(pseudonym(SALT, p),) for p in people], "customer_key STRING")


def test_machine_learning_curated_full_build_aligns_every_trusted_step(lake: Lake) -> None:
    content, _ = ml_build(lake, FULL)
    rule = aligned_with_accelerometer(lake.customer_trusted, lake.accelerometer_trusted)
    assertDataFrameEqual(content, lake.step_trainer_trusted.transform(rule))


def test_machine_learning_curated_full_build_scope_is_every_customers_key(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = ml_build(lake, FULL)
    assertDataFrameEqual(scope, keys(spark, *EVERYONE))


def test_machine_learning_curated_incremental_build_holds_the_touched_moments(
    lake: Lake,
) -> None:
    # A new step (30); steps at moments of new phone readings of unchanged customers (20, 40);
    # older steps of changed customers (5, 8). Not 10 nor 50: nothing touched their moments.
    content, _ = ml_build(lake, AFTER_FIRST)
    full, _ = ml_build(lake, FULL)
    assertDataFrameEqual(content, only(full, "sensorReadingTime", [30, 20, 40, 5, 8]))


def test_machine_learning_curated_incremental_scope_is_the_changed_customers_keys(
    spark: SparkSession, lake: Lake
) -> None:
    _, scope = ml_build(lake, AFTER_FIRST)
    assertDataFrameEqual(scope, keys(spark, *CHANGED))

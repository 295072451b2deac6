from __future__ import annotations

from pyspark.sql import SparkSession

from gold.transforms import aligned_with_accelerometer, customers_with_readings
from tests.helpers import rows

CUSTOMERS = "customer_key STRING, email STRING, serialNumber STRING"
ACCELEROMETER = "reading_id STRING, user STRING, timestamp BIGINT, x DOUBLE, y DOUBLE, z DOUBLE"
STEPS = "reading_id STRING, sensorReadingTime BIGINT, serialNumber STRING, distanceFromObject INT"


def align(spark: SparkSession, customers, accelerometer, steps):  # type: ignore[no-untyped-def]
    return (
        spark.createDataFrame(steps, STEPS)
        .transform(
            aligned_with_accelerometer(
                spark.createDataFrame(customers, CUSTOMERS),
                spark.createDataFrame(accelerometer, ACCELEROMETER),
            )
        )
        .select("customer_key", "serialNumber", "sensorReadingTime", "distanceFromObject", "x")
    )


def test_steps_pair_only_with_the_same_customers_phone(spark: SparkSession) -> None:
    # a and b read at the same millisecond on different devices; a time-only join would
    # give each step reading both phones' values.
    aligned = align(
        spark,
        [("ka", "a@x", "s-a"), ("kb", "b@x", "s-b")],
        [("r1", "a@x", 1000, 0.1, 0, 0), ("r2", "b@x", 1000, 0.2, 0, 0)],
        [("t1", 1000, "s-a", 10), ("t2", 1000, "s-b", 20)],
    )
    assert rows(aligned) == [("ka", "s-a", 1000, 10, 0.1), ("kb", "s-b", 1000, 20, 0.2)]


def test_shared_serial_is_attributed_through_the_reading_time(spark: SparkSession) -> None:
    aligned = align(
        spark,
        [("ka", "a@x", "shared"), ("kb", "b@x", "shared")],
        [("r1", "a@x", 1000, 0.1, 0, 0), ("r2", "b@x", 5000, 0.2, 0, 0)],
        [("t1", 1000, "shared", 10), ("t2", 5000, "shared", 20), ("t3", 9000, "shared", 30)],
    )
    assert rows(aligned) == [("ka", "shared", 1000, 10, 0.1), ("kb", "shared", 5000, 20, 0.2)]


def test_several_phone_readings_in_one_millisecond_each_make_a_row(spark: SparkSession) -> None:
    aligned = align(
        spark,
        [("ka", "a@x", "s")],
        [("r1", "a@x", 1000, 0.1, 0, 0), ("r2", "a@x", 1000, 0.3, 0, 0)],
        [("t1", 1000, "s", 10)],
    )
    assert rows(aligned, "x") == [(0.1,), (0.3,)]


def test_curated_customers_are_those_with_readings(spark: SparkSession) -> None:
    customers = spark.createDataFrame([("ka", "a@x", "s1"), ("kb", "b@x", "s2")], CUSTOMERS)
    readings = spark.createDataFrame([("a@x", 5), ("a@x", 6)], "user STRING, timestamp BIGINT")
    curated = customers.transform(customers_with_readings(readings))
    assert rows(curated, "email") == [("a@x",)]

"""silver.changes: what new bronze batches touch (pure functions of tiny frames)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from silver.changes import (
    at_moment_times,
    changed_customers,
    fresh,
    moments_of,
    readings_of_customers,
    touched_readings,
    touched_readings_after,
)
from tests.helpers import moments

CUSTOMERS = "email STRING, serialNumber STRING, _batch BIGINT"
READINGS = "user STRING, timestamp BIGINT, _batch BIGINT"
EMAILS = "email STRING"
STEPS = "sensorReadingTime BIGINT, serialNumber STRING, distanceFromObject INT"


def customers(spark: SparkSession, *rows: tuple[str, str, int]) -> DataFrame:
    return spark.createDataFrame(list(rows), CUSTOMERS)


def readings(spark: SparkSession, *rows: tuple[str, int, int]) -> DataFrame:
    return spark.createDataFrame(list(rows), READINGS)


def emails(spark: SparkSession, *values: str) -> DataFrame:
    return spark.createDataFrame([(value,) for value in values], EMAILS)


# fresh


def test_fresh_without_a_since_batch_is_every_row(spark: SparkSession) -> None:
    rows = readings(spark, ("a@x", 1, 1), ("a@x", 2, 2))
    assertDataFrameEqual(fresh(rows, None), rows)


def test_fresh_keeps_only_batches_after_since(spark: SparkSession) -> None:
    rows = readings(spark, ("a@x", 1, 1), ("a@x", 2, 2), ("a@x", 3, 3))
    assertDataFrameEqual(fresh(rows, 1), readings(spark, ("a@x", 2, 2), ("a@x", 3, 3)))


def test_fresh_excludes_the_since_batch_itself(spark: SparkSession) -> None:
    rows = readings(spark, ("a@x", 1, 2))
    assertDataFrameEqual(fresh(rows, 2), readings(spark))


# changed_customers


def test_changed_customers_without_a_since_batch_are_every_customer(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 1), ("b@x", "s2", 2))
    assertDataFrameEqual(changed_customers(landing, None), emails(spark, "a@x", "b@x"))


def test_changed_customers_are_those_with_a_record_after_since(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 1), ("b@x", "s2", 1), ("b@x", "s3", 2))
    assertDataFrameEqual(changed_customers(landing, 1), emails(spark, "b@x"))


def test_changed_customers_lists_each_email_once(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 2), ("a@x", "s2", 3), ("a@x", "s1", 3))
    assertDataFrameEqual(changed_customers(landing, 1), emails(spark, "a@x"))


# readings_of_customers


def test_readings_of_customers_keeps_readings_of_the_given_emails(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 1, 1), ("a@x", 2, 2), ("b@x", 3, 1))
    assertDataFrameEqual(
        readings_of_customers(phone, emails(spark, "a@x", "c@x")),
        readings(spark, ("a@x", 1, 1), ("a@x", 2, 2)),
    )


def test_readings_of_customers_are_not_repeated_by_repeated_emails(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 1, 1))
    assertDataFrameEqual(readings_of_customers(phone, emails(spark, "a@x", "a@x")), phone)


# touched_readings


def test_touched_readings_without_a_since_batch_are_every_reading(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 1, 1), ("b@x", 2, 2))
    nobody = emails(spark)
    assertDataFrameEqual(touched_readings(phone, nobody, None), phone)


def test_touched_readings_are_new_readings_of_unchanged_customers(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 1, 1), ("a@x", 2, 2))
    nobody = emails(spark)
    assertDataFrameEqual(touched_readings(phone, nobody, 1), readings(spark, ("a@x", 2, 2)))


def test_touched_readings_include_a_changed_customers_older_readings(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 1, 1), ("b@x", 2, 1))
    assertDataFrameEqual(
        touched_readings(phone, emails(spark, "b@x"), 1), readings(spark, ("b@x", 2, 1))
    )


def test_touched_readings_leave_out_old_readings_of_unchanged_customers(
    spark: SparkSession,
) -> None:
    phone = readings(spark, ("a@x", 1, 1), ("b@x", 2, 1), ("c@x", 3, 2))
    touched = touched_readings(phone, emails(spark, "b@x"), 1)
    assertDataFrameEqual(touched, readings(spark, ("b@x", 2, 1), ("c@x", 3, 2)))


# touched_readings_after (bronze's readings, emails as delivered)


def test_touched_readings_after_find_every_spelling_of_a_changed_customer(
    spark: SparkSession,
) -> None:
    landing = customers(spark, ("a@x", "s1", 1), ("b@x", "s2", 1), ("b@x", "s2", 2))
    phone = readings(
        spark,
        (" B@X", 1, 1),
        ("b@x\u200b", 2, 1),
        ("\uff42@x", 3, 1),
        ("A@x", 4, 1),
        ("C@x", 5, 2),
    )
    touched = touched_readings_after(landing, phone)(1)
    expected = readings(spark, ("b@x", 1, 1), ("b@x", 2, 1), ("b@x", 3, 1), ("c@x", 5, 2))
    assertDataFrameEqual(touched, expected)


def test_touched_readings_after_without_changed_customers_are_the_new_readings(
    spark: SparkSession,
) -> None:
    landing = customers(spark, ("a@x", "s1", 1))
    phone = readings(spark, ("A@x", 1, 1), ("A@X ", 2, 2))
    assertDataFrameEqual(touched_readings_after(landing, phone)(1), readings(spark, ("a@x", 2, 2)))


# moments_of


def test_moments_of_a_reading_are_its_time_under_its_users_serial(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 1))
    phone = readings(spark, ("a@x", 10, 1))
    assertDataFrameEqual(moments_of(phone, landing), moments(spark, ("s1", 10)))


def test_moments_of_a_reading_cover_every_serial_its_user_ever_had(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 1), ("a@x", "s2", 2), ("b@x", "s3", 1))
    phone = readings(spark, ("a@x", 10, 3))
    assertDataFrameEqual(moments_of(phone, landing), moments(spark, ("s1", 10), ("s2", 10)))


def test_moments_of_readings_are_distinct(spark: SparkSession) -> None:
    # The same serial twice in the customer's records, the same time in two readings.
    landing = customers(spark, ("a@x", "s1", 1), ("a@x", "s1", 2))
    phone = readings(spark, ("a@x", 10, 1), ("a@x", 10, 2))
    assertDataFrameEqual(moments_of(phone, landing), moments(spark, ("s1", 10)))


def test_moments_of_a_user_without_customer_records_are_none(spark: SparkSession) -> None:
    landing = customers(spark, ("a@x", "s1", 1))
    phone = readings(spark, ("stranger@x", 10, 1))
    assertDataFrameEqual(moments_of(phone, landing), moments(spark))


def test_moments_of_a_shared_serial_name_it_once_per_time(spark: SparkSession) -> None:
    # The fulfilment bug: two customers with one serial, readings at the same millisecond.
    landing = customers(spark, ("a@x", "s1", 1), ("b@x", "s1", 1))
    phone = readings(spark, ("a@x", 10, 1), ("b@x", 10, 1))
    assertDataFrameEqual(moments_of(phone, landing), moments(spark, ("s1", 10)))


# at_moment_times: a semi-join on the column's name, which (as any USING join) puts that column
# first; its consumers select by name, so the column order is not compared.


def test_at_moment_times_keeps_rows_at_a_moments_millisecond(spark: SparkSession) -> None:
    steps = spark.createDataFrame([(10, "s1", 1), (20, "s1", 2)], STEPS)
    assertDataFrameEqual(
        at_moment_times(steps, "sensorReadingTime", moments(spark, ("s1", 10))),
        spark.createDataFrame([(10, "s1", 1)], STEPS),
    )


def test_at_moment_times_matches_the_time_whatever_the_serial(spark: SparkSession) -> None:
    # Only a narrowing by time: the serial is checked later, by the rule it feeds.
    steps = spark.createDataFrame([(10, "s1", 1), (10, "s9", 2)], STEPS)
    assertDataFrameEqual(
        at_moment_times(steps, "sensorReadingTime", moments(spark, ("s1", 10))), steps
    )


def test_at_moment_times_does_not_repeat_rows_for_repeated_times(spark: SparkSession) -> None:
    phone = readings(spark, ("a@x", 10, 1))
    at_ten = moments(spark, ("s1", 10), ("s2", 10), ("s1", 10))
    assertDataFrameEqual(at_moment_times(phone, "timestamp", at_ten), phone, ignoreColumnOrder=True)

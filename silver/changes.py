"""What new bronze batches touch, so silver and gold recompute only that.

Every silver and gold row is derived from bronze rows, so a row can change only if a new
batch brought a record of the same customer (a consent granted, withdrawn or moved, a new
serial number) or a reading at the same moment. New readings only ever add rows; rows leave
only when their customer changed. Pure functions of DataFrames; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.core.identity import may_spell_one_of
from silver.transforms import with_normalised_email

MOMENT = ("serialNumber", "sensorReadingTime")
# Up to this many changed customers, history is filtered by their emails' values before any
# email in it is put in canonical form; beyond, it is joined with them (every email spelt).
MAX_FILTERED_EMAILS = 10_000

# The touched accelerometer readings after a batch (None: every reading), see `touched_readings`.
TouchedReadings = Callable[[int | None], DataFrame]


def fresh(rows: DataFrame, since_batch: int | None) -> DataFrame:
    """Bronze rows of batches after `since_batch` (all of them when None)."""
    return rows if since_batch is None else rows.where(F.col("_batch") > since_batch)


def changed_customers(customer_landing: DataFrame, since_batch: int | None) -> DataFrame:
    """`email` of every customer with a record in the new batches."""
    return fresh(customer_landing, since_batch).select("email").distinct()


def readings_of_customers(accelerometer: DataFrame, emails: DataFrame) -> DataFrame:
    """The accelerometer readings whose `user` is one of `emails`."""
    return accelerometer.join(emails.select(F.col("email").alias("user")), "user", "left_semi")


def touched_readings(
    accelerometer_landing: DataFrame, changed: DataFrame, since_batch: int | None
) -> DataFrame:
    """Accelerometer readings that are new, or belong to a changed customer."""
    return fresh(accelerometer_landing, since_batch).unionByName(
        readings_of_customers(accelerometer_landing, changed)
    )


def touched_readings_after(
    customer_landing: DataFrame, accelerometer_landing: DataFrame
) -> TouchedReadings:
    """`touched_readings` as a function of the batch: what every incremental silver and gold
    table starts from, so a run can compute it once and share it (`RunContext.shared`).

    `accelerometer_landing` is bronze's, each `user` as it was delivered. Only the new readings
    and those that may spell a changed customer's email (`may_spell_one_of`, a filter by value:
    the changed customers' emails are collected, a few rows) have their email put in canonical
    form, not the whole history on every run.
    """
    canonical = with_normalised_email("user")

    def touched(since_batch: int | None) -> DataFrame:
        if since_batch is None:
            return accelerometer_landing.transform(canonical)
        changed = changed_customers(customer_landing, since_batch)
        emails = [row[0] for row in changed.limit(MAX_FILTERED_EMAILS + 1).collect()]
        new = fresh(accelerometer_landing, since_batch).transform(canonical)
        if not emails:
            return new
        history = accelerometer_landing
        if len(emails) <= MAX_FILTERED_EMAILS:
            history = history.where(may_spell_one_of(F.col("user"), emails))
        return new.unionByName(readings_of_customers(history.transform(canonical), changed))

    return touched


def moments_of(readings: DataFrame, customer_landing: DataFrame) -> DataFrame:
    """(`serialNumber`, `sensorReadingTime`) pairs: each reading's time under every serial
    number its user ever had. A step reading is attributed through a customer holding its
    serial number with a reading at its millisecond, so only these moments can change."""
    serials = customer_landing.select(F.col("email").alias("user"), "serialNumber").distinct()
    return (
        readings.select("user", F.col("timestamp").alias("sensorReadingTime"))
        .join(serials, "user")
        .select(*MOMENT)
        .distinct()
    )


def at_moment_times(rows: DataFrame, time_column: str, moments: DataFrame) -> DataFrame:
    """`rows` taken at one of the moments' milliseconds (narrows a big input cheaply)."""
    times = moments.select(F.col("sensorReadingTime").alias(time_column)).distinct()
    return rows.join(times, time_column, "left_semi")

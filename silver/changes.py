"""What new bronze batches touch, so silver and gold recompute only that.

Every silver and gold row is derived from bronze rows, so a row can change only if a new
batch brought a record of the same customer (a consent granted, withdrawn or moved, a new
serial number) or a reading at the same moment. Pure functions of DataFrames; no I/O.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MOMENT = ("serialNumber", "sensorReadingTime")


def fresh(rows: DataFrame, since_batch: int | None) -> DataFrame:
    """Bronze rows of batches after `since_batch` (all of them when None)."""
    return rows if since_batch is None else rows.where(F.col("_batch") > since_batch)


def changed_customers(customer_landing: DataFrame, since_batch: int | None) -> DataFrame:
    """`email` of every customer with a record in the new batches."""
    return fresh(customer_landing, since_batch).select("email").distinct()


def touched_readings(
    accelerometer_landing: DataFrame, changed: DataFrame, since_batch: int | None
) -> DataFrame:
    """Accelerometer readings that are new, or belong to a changed customer."""
    of_changed = accelerometer_landing.join(
        changed.withColumnRenamed("email", "user"), "user", "left_semi"
    )
    return fresh(accelerometer_landing, since_batch).unionByName(of_changed)


def touched_moments(
    customer_landing: DataFrame,
    accelerometer_landing: DataFrame,
    changed: DataFrame,
    since_batch: int | None,
) -> DataFrame:
    """(`serialNumber`, `sensorReadingTime`) pairs whose step readings may change attribution.

    A step reading is attributed through a customer holding its serial number with an
    accelerometer reading at its millisecond, so only the moments of touched readings, under
    any serial number their user ever had, can gain or lose a step reading.
    """
    readings = touched_readings(accelerometer_landing, changed, since_batch).select(
        "user", F.col("timestamp").alias("sensorReadingTime")
    )
    serials = customer_landing.select(F.col("email").alias("user"), "serialNumber").distinct()
    return readings.join(serials, "user").select(*MOMENT).distinct()

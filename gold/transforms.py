"""Gold transforms: curated customers and the ML dataset. Pure DataFrame -> DataFrame."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from gold.tables import MACHINE_LEARNING_CURATED
from silver.transforms import with_row_id

Transform = Callable[[DataFrame], DataFrame]

# The columns gold/sql/machine_learning_curated.sql declares, in its order.
MACHINE_LEARNING_COLUMNS = MACHINE_LEARNING_CURATED.column_names


def customers_with_readings(readings: DataFrame) -> Transform:
    """Customers that have at least one of `readings` (matched on email = `user`)."""

    def transform(customers: DataFrame) -> DataFrame:
        users = readings.select(F.col("user").alias("_user")).distinct()
        return customers.join(users, F.col("email") == F.col("_user"), "left_semi")

    return transform


def aligned_with_accelerometer(customers: DataFrame, accelerometer: DataFrame) -> Transform:
    """Pair each step-trainer reading with the same customer's accelerometer readings.

    A step reading names a serial number, which the fulfilment bug shared between customers,
    so it is attributed through a customer who has that serial number *and* an accelerometer
    reading at the same millisecond. Matching on time alone would pair one customer's steps
    with another customer's phone. Trusted readings are already after consent, so the join
    needs no consent condition of its own.
    """

    def transform(steps: DataFrame) -> DataFrame:
        owners = customers.select(F.col("email").alias("_email"), "serialNumber")
        phone = accelerometer.select(
            F.col("reading_id").alias("_accelerometer_id"),
            F.col("user").alias("_email"),
            F.col("timestamp").alias("sensorReadingTime"),
            "x",
            "y",
            "z",
        )
        # Readings with their owner's serial number first: joining steps on the serial alone
        # would pair every step with every customer sharing it (the bug) before narrowing.
        owned = owners.join(phone, "_email")
        # The pseudonym is attached last, so the big joins carry no 64-character key.
        keys = customers.select(F.col("email").alias("_email"), "customer_key")
        return (
            steps.join(owned, ["serialNumber", "sensorReadingTime"])
            .join(keys, "_email")
            .withColumn("_step_id", F.col("reading_id"))
            # The pseudonym too: the MERGE never updates a matched row (content-keyed), so a new
            # salt must give new ids for a rebuild to replace every row.
            .transform(with_row_id("record_id", ("_step_id", "_accelerometer_id", "customer_key")))
            .select(*MACHINE_LEARNING_COLUMNS)
        )

    return transform

"""Silver transforms: research-consenting customers and only their readings.

Pure DataFrame -> DataFrame functions (or factories of them); no I/O, no session.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType

from lakehouse.core.identity import email_identity
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED

Transform = Callable[[DataFrame], DataFrame]

# The columns each table's DDL declares (silver/sql/*.sql), in its order.
CUSTOMER_COLUMNS = CUSTOMER_TRUSTED.column_names
ACCELEROMETER_COLUMNS = ACCELEROMETER_TRUSTED.column_names
STEP_TRAINER_COLUMNS = STEP_TRAINER_TRUSTED.column_names
CONSENT = "shareWithResearchAsOfDate"
FIELD_SEPARATOR = "\u001f"
EARLIEST_BIRTH_DAY = "1900-01-01"
# Doubles in this range are written as the same text by classic Spark and the embedded engine
# (the same shortest digits, seen on 300,000 values); outside it the JVM writes `1.0E-5` where
# the embedded engine writes `0.00001`. A value outside is scaled into [2^-9, 2^23), a part of
# the range, by a power of two 2^(32n) (exact: only the exponent changes) and written `<text>p<k>`.
SAME_TEXT_RANGE = (1e-3, 1e7)
SCALE_BITS = 32
SCALED_FROM, SCALED_TO = 2.0**-9, 2.0**23


def with_normalised_email(column: str) -> Transform:
    """`column` (an email) replaced by its canonical spelling (`lakehouse.core.identity`).

    Rows whose email has none are dropped: they name nobody. Bronze admits none since it checks
    the same rule; an older warehouse may hold some (admitted before NUL or non-ASCII letters
    were refused).
    """

    def transform(df: DataFrame) -> DataFrame:
        identity = email_identity(F.col(column))
        return df.withColumn(column, identity).where(F.col(column).isNotNull())

    return transform


def latest_record_per_customer(customers: DataFrame) -> DataFrame:
    """Each email's record with the greatest `lastUpdateDate`.

    Ties go to the later file name, then the later delivery of that file, then the later line:
    an order that does not depend on how the files were split across runs.
    """
    newest_first = Window.partitionBy("email").orderBy(
        F.col("lastUpdateDate").desc(),
        F.col("_source_file").desc(),
        F.col("_batch").desc(),
        F.col("_source_line").desc(),
    )
    return (
        customers.withColumn("_rank", F.row_number().over(newest_first))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def with_research_consent(customers: DataFrame) -> DataFrame:
    """Customers whose (latest) record holds a research-consent date."""
    return customers.where(F.col(CONSENT).isNotNull())


def sanitize_customers(customers: DataFrame) -> DataFrame:
    """Junk values become NULL instead of passing as valid.

    `birthDay` must be a real `yyyy-MM-dd` date from 1900 up to the record's last update;
    `phone` keeps only its digits and must have 7 to 15 of them.
    """
    birth_day = F.col("birthDay").try_cast("date")
    last_update_day = F.to_date(F.timestamp_millis(F.col("lastUpdateDate")))
    # [0-9], not \d: on the embedded engine \d is any Unicode digit (U+0662), on the JVM 0-9.
    real_birth_day = (
        F.col("birthDay").rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        & (birth_day >= F.lit(EARLIEST_BIRTH_DAY).cast("date"))
        & (birth_day <= last_update_day)
    )
    digits = F.regexp_replace("phone", r"[^0-9]", "")
    return customers.withColumns(
        {
            "birthDay": F.when(real_birth_day, birth_day),
            "phone": F.when(F.length(digits).between(7, 15), digits),
        }
    )


def with_customer_key(salt: str) -> Transform:
    """Add `customer_key`: a stable pseudonym (salted SHA-256 of the email)."""

    def transform(customers: DataFrame) -> DataFrame:
        return customers.withColumn("customer_key", pseudonym(salt, F.col("email")))

    return transform


def pseudonym(salt: str, value: Column) -> Column:
    return F.sha2(F.concat(F.lit(salt + FIELD_SEPARATOR), value), 256)


def with_row_id(name: str, columns: tuple[str, ...]) -> Transform:
    """Add a key for rows without one: a SHA-256 of their business fields.

    Each field is hashed as text that every engine writes alike (see `double_text`).
    """

    def transform(df: DataFrame) -> DataFrame:
        types = {field.name: field.dataType for field in df.schema.fields}
        texts = [
            double_text(F.col(c))
            if isinstance(types.get(c), DoubleType | FloatType)
            else F.col(c).cast("string")
            for c in columns
        ]
        fields = [F.coalesce(text, F.lit("\u0000")) for text in texts]
        return df.withColumn(name, F.sha2(F.concat_ws(FIELD_SEPARATOR, *fields), 256))

    return transform


def double_text(value: Column) -> Column:
    """A double as text that is the same on every engine and tells every two doubles apart.

    Within `SAME_TEXT_RANGE` (and 0) it is the engine's own text, as row ids always had it;
    outside, `<value * 2^(32n) as text>p<-32n>`; NaN and infinities by name.
    """
    magnitude = F.abs(value)
    low, high = SAME_TEXT_RANGE
    # n puts magnitude * 2^(32n) in [2^-9, 2^23). log2 may miss by a hair at a power of two,
    # not alike on both engines, so its estimate is corrected by exact comparisons.
    estimate = F.ceil((F.lit(-9.0) - F.log2(magnitude)) / SCALE_BITS).cast("int")
    estimated = _times_power_of_two(magnitude, estimate)
    steps = (
        F.when(estimated < SCALED_FROM, estimate + 1)
        .when(estimated >= SCALED_TO, estimate - 1)
        .otherwise(estimate)
    )
    scaled = F.concat(
        _times_power_of_two(value, steps).cast("string"),
        F.lit("p"),
        (steps * -SCALE_BITS).cast("string"),
    )
    return (
        F.when(F.isnan(value), F.lit("NaN"))
        .when(value == float("inf"), F.lit("Infinity"))
        .when(value == float("-inf"), F.lit("-Infinity"))
        .when((magnitude == 0) | ((magnitude >= low) & (magnitude < high)), value.cast("string"))
        .otherwise(scaled)
    )


def _times_power_of_two(value: Column, steps: Column) -> Column:
    """`value * 2^(32 * steps)`, exact: two halves, as 2^(32 * 34) is no double (pow of 2 and
    an integer is exact on both engines)."""
    half = F.pow(F.lit(2.0), steps * (SCALE_BITS // 2))
    return value * half * half


def trusted_customers(salt: str) -> Transform:
    """customer_landing -> customer_trusted."""

    def transform(customers: DataFrame) -> DataFrame:
        return (
            customers.transform(latest_record_per_customer)
            .transform(with_research_consent)
            .transform(sanitize_customers)
            .transform(with_customer_key(salt))
            .select(*CUSTOMER_COLUMNS)
        )

    return transform


def readings_of(customers: DataFrame, *, consent_cutoff: bool) -> Transform:
    """Accelerometer readings of one of `customers` (with the cutoff: taken after consent)."""

    def transform(readings: DataFrame) -> DataFrame:
        consent = customers.select(F.col("email").alias("_email"), F.col(CONSENT).alias("_consent"))
        condition = F.col("user") == F.col("_email")
        if consent_cutoff:
            condition = condition & (F.col("timestamp") >= F.col("_consent"))
        return readings.join(consent, condition, "left_semi")

    return transform


def trusted_accelerometer(customers: DataFrame, *, consent_cutoff: bool) -> Transform:
    """accelerometer_landing -> accelerometer_trusted (readings of trusted customers)."""

    def transform(readings: DataFrame) -> DataFrame:
        columns = ACCELEROMETER_COLUMNS[1:]
        return (
            readings.transform(readings_of(customers, consent_cutoff=consent_cutoff))
            .select(*columns)
            # Identical readings are one reading. distinct(), not dropDuplicates(): the same
            # result here, and the embedded engine runs it about ten times faster.
            .distinct()
            .transform(with_row_id("reading_id", columns))
            .select(*ACCELEROMETER_COLUMNS)
        )

    return transform


def trusted_step_trainer(customers: DataFrame, accelerometer: DataFrame) -> Transform:
    """step_trainer_landing -> step_trainer_trusted.

    The fulfilment bug gave many customers the same serial number, so a serial alone would let
    a non-consenting customer's readings in. A reading is kept only when a trusted customer
    owns its serial number *and* has a trusted accelerometer reading at that millisecond; the
    consent cutoff therefore carries over from `accelerometer` (already cut off).
    """

    def transform(readings: DataFrame) -> DataFrame:
        owners = customers.select(
            F.col("email").alias("_email"), F.col("serialNumber").alias("_serial")
        )
        moments = accelerometer.select(
            F.col("user").alias("_email"), F.col("timestamp").alias("_time")
        ).distinct()
        owned_moments = owners.join(moments, "_email").select("_serial", "_time")
        columns = STEP_TRAINER_COLUMNS[1:]
        return (
            readings.join(
                owned_moments,
                (F.col("serialNumber") == F.col("_serial"))
                & (F.col("sensorReadingTime") == F.col("_time")),
                "left_semi",
            )
            .select(*columns)
            # Identical readings are one reading. distinct(), not dropDuplicates(): the same
            # result here, and the embedded engine runs it about ten times faster.
            .distinct()
            .transform(with_row_id("reading_id", columns))
            .select(*STEP_TRAINER_COLUMNS)
        )

    return transform

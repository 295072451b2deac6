"""Consent audit: does every silver and gold row belong to a customer who consented then,
and is every erased person (the suppression list) gone from bronze, silver and gold?

The truth is recomputed from bronze as of the same point: each customer's latest record must
carry a research-consent date, and with the cutoff every reading must be taken at or after it.
Rows are checked table by table with anti-joins; violations are counted and sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.tables import QUARANTINE
from lakehouse.core.config import Config
from lakehouse.core.identity import digest_of
from lakehouse.core.ops_tables import SUPPRESSION_LIST
from lakehouse.core.secrets import with_pseudonym_salt
from lakehouse.core.suppression import emails_in
from lakehouse.core.timetravel import AsOf, AsOfError, read_as_of
from silver.transforms import (
    latest_record_per_customer,
    with_customer_key,
    with_normalised_email,
)

# Every table the audit reads: the checked silver and gold tables and the bronze truth.
AUDITED_TABLES = (
    "bronze.customer_landing",
    "bronze.accelerometer_landing",
    "silver.customer_trusted",
    "silver.accelerometer_trusted",
    "silver.step_trainer_trusted",
    "gold.customer_curated",
    "gold.machine_learning_curated",
)


# Tables naming people by email, and the column that does.
NAMING_TABLES = (
    ("bronze.customer_landing", "email"),
    ("bronze.accelerometer_landing", "user"),
    ("silver.customer_trusted", "email"),
    ("silver.accelerometer_trusted", "user"),
    ("gold.customer_curated", "email"),
)


@dataclass(frozen=True)
class Violation:
    table: str
    rows: int
    sample: list[str]


def consent_violations(
    spark: SparkSession, config: Config, as_of: AsOf | None = None
) -> list[Violation]:
    """Violations in every silver and gold table, now or with every table read `as_of`."""
    if as_of is not None and as_of.version is not None:
        raise AsOfError(
            "the consent audit reads seven tables, and a version number is one table's: "
            "give a run id (`lakehouse runs`) or a timestamp"
        )

    def read(name: str) -> DataFrame:
        return read_as_of(spark, config.paths.warehouse, name, as_of)

    config = with_pseudonym_salt(config, create=False)
    cutoff = config.privacy.consent_cutoff
    consenting = (
        read("bronze.customer_landing")
        .transform(with_normalised_email("email"))
        .transform(latest_record_per_customer)
        .where(F.col("shareWithResearchAsOfDate").isNotNull())
        .select("email", "serialNumber", F.col("shareWithResearchAsOfDate").alias("_consent"))
        .transform(with_customer_key(config.privacy.pseudonym_salt))
    )

    def after_consent(time_column: str) -> F.Column:
        return F.col(time_column) >= F.col("_consent") if cutoff else F.lit(True)

    people = consenting.select("email")
    readers = consenting.select(F.col("email").alias("user"), "_consent")
    phone = (
        read("bronze.accelerometer_landing")
        .transform(with_normalised_email("user"))
        .select("user", "timestamp")
    )
    owners = consenting.select(F.col("email").alias("user"), "serialNumber", "_consent")
    witnessed = (
        owners.join(phone, "user")
        .where(after_consent("timestamp"))
        .select("serialNumber", F.col("timestamp").alias("sensorReadingTime"))
        .distinct()
    )
    keyed = consenting.select("customer_key", "serialNumber", "_consent")

    checks: dict[str, tuple[DataFrame, str]] = {
        "silver.customer_trusted": (
            read("silver.customer_trusted").join(people, "email", "left_anti"),
            "email",
        ),
        "silver.accelerometer_trusted": (
            read("silver.accelerometer_trusted").join(
                readers.join(read("silver.accelerometer_trusted"), "user")
                .where(after_consent("timestamp"))
                .select("reading_id"),
                "reading_id",
                "left_anti",
            ),
            "reading_id",
        ),
        "silver.step_trainer_trusted": (
            read("silver.step_trainer_trusted").join(
                witnessed, ["serialNumber", "sensorReadingTime"], "left_anti"
            ),
            "reading_id",
        ),
        "gold.customer_curated": (
            read("gold.customer_curated").join(people, "email", "left_anti"),
            "email",
        ),
        "gold.machine_learning_curated": (
            read("gold.machine_learning_curated").join(
                keyed.join(read("gold.machine_learning_curated"), ["customer_key", "serialNumber"])
                .where(after_consent("sensorReadingTime"))
                .select("record_id"),
                "record_id",
                "left_anti",
            ),
            "record_id",
        ),
    }
    erased = _suppression_list(spark, read, as_of)
    if erased is not None:
        # Erased people must be nowhere: their digest is all the list keeps of them.
        for table, column in NAMING_TABLES:
            named = read(table).select(digest_of(F.col(column)).alias("digest"))
            checks[f"{table} (erased person)"] = (
                named.join(erased, "digest", "left_semi"),
                "digest",
            )
        # A line that did not parse names people only in its text.
        quarantine = QUARANTINE.qualified_name
        quarantined = read(quarantine).select(F.explode(emails_in("raw")).alias("email"))
        checks[f"{quarantine} (erased person)"] = (
            quarantined.select(digest_of(F.col("email")).alias("digest")).join(
                erased, "digest", "left_semi"
            ),
            "digest",
        )
    found = []
    for table, (bad, key) in checks.items():
        count = bad.count()
        if count:
            sample = [str(row[0]) for row in bad.select(key).distinct().limit(5).collect()]
            found.append(Violation(table, count, sample))
    return found


def _suppression_list(
    spark: SparkSession, read: Callable[[str], DataFrame], as_of: AsOf | None
) -> DataFrame | None:
    """The digests of the people erased by `as_of` (None: nobody, or no list yet)."""
    name = SUPPRESSION_LIST.qualified_name
    if not spark.catalog.tableExists(name):
        return None
    try:
        return read(name).select("digest").distinct()
    except AsOfError:  # the list did not exist yet at that point
        return None

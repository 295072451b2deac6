"""Consent audit: does every silver and gold row belong to a customer who consented then,
and is every erased person (the suppression list) gone from bronze, silver and gold?

The truth is recomputed from bronze as of the same point: each customer's latest record must
carry a research-consent date, and with the cutoff every reading must be taken at or after it.
Rows are checked table by table with anti-joins; violations are counted and sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, QUARANTINE
from gold.tables import CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from lakehouse.app.tables import pseudonymised_tables
from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import Config
from lakehouse.core.delta_log import files_not_current, is_delta_table
from lakehouse.core.erasures import retention_over
from lakehouse.core.identity import digest_of
from lakehouse.core.ops_tables import ERASURES, SUPPRESSION_LIST
from lakehouse.core.secrets import with_pseudonym_salt
from lakehouse.core.suppression import emails_in
from lakehouse.core.timetravel import AsOf, AsOfError, read_as_of
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import (
    latest_record_per_customer,
    with_customer_key,
    with_normalised_email,
)

# Every table the audit reads: the checked silver and gold tables and the bronze truth.
AUDITED_TABLES = (
    CUSTOMER_LANDING.qualified_name,
    ACCELEROMETER_LANDING.qualified_name,
    CUSTOMER_TRUSTED.qualified_name,
    ACCELEROMETER_TRUSTED.qualified_name,
    STEP_TRAINER_TRUSTED.qualified_name,
    CUSTOMER_CURATED.qualified_name,
    MACHINE_LEARNING_CURATED.qualified_name,
)


# Tables naming people by email, and the column that does.
NAMING_TABLES = (
    (CUSTOMER_LANDING, "email"),
    (ACCELEROMETER_LANDING, "user"),
    (CUSTOMER_TRUSTED, "email"),
    (ACCELEROMETER_TRUSTED, "user"),
    (CUSTOMER_CURATED, "email"),
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

    def read(table: TableSpec) -> DataFrame:
        return read_as_of(spark, config.paths.warehouse, table.qualified_name, as_of)

    config = with_pseudonym_salt(config, create=False, keyed=pseudonymised_tables())
    cutoff = config.privacy.consent_cutoff
    consenting = (
        read(CUSTOMER_LANDING)
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
        read(ACCELEROMETER_LANDING)
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
        CUSTOMER_TRUSTED.qualified_name: (
            read(CUSTOMER_TRUSTED).join(people, "email", "left_anti"),
            "email",
        ),
        ACCELEROMETER_TRUSTED.qualified_name: (
            read(ACCELEROMETER_TRUSTED).join(
                readers.join(read(ACCELEROMETER_TRUSTED), "user")
                .where(after_consent("timestamp"))
                .select("reading_id"),
                "reading_id",
                "left_anti",
            ),
            "reading_id",
        ),
        STEP_TRAINER_TRUSTED.qualified_name: (
            read(STEP_TRAINER_TRUSTED).join(
                witnessed, ["serialNumber", "sensorReadingTime"], "left_anti"
            ),
            "reading_id",
        ),
        CUSTOMER_CURATED.qualified_name: (
            read(CUSTOMER_CURATED).join(people, "email", "left_anti"),
            "email",
        ),
        MACHINE_LEARNING_CURATED.qualified_name: (
            read(MACHINE_LEARNING_CURATED).join(
                keyed.join(read(MACHINE_LEARNING_CURATED), ["customer_key", "serialNumber"])
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
            checks[f"{table.qualified_name} (erased person)"] = (
                named.join(erased, "digest", "left_semi"),
                "digest",
            )
        # A line that did not parse names people only in its text.
        quarantined = read(QUARANTINE).select(F.explode(emails_in("raw")).alias("email"))
        checks[f"{QUARANTINE.qualified_name} (erased person)"] = (
            quarantined.select(digest_of(F.col("email")).alias("digest")).join(
                erased, "digest", "left_semi"
            ),
            "digest",
        )
    if as_of is None:
        checks.update(_unfinished_or_retained(spark, config.paths.warehouse))
    found = []
    for checked, (bad, key) in checks.items():
        count = bad.count()
        if count:
            sample = [str(row[0]) for row in bad.select(key).distinct().limit(5).collect()]
            found.append(Violation(checked, count, sample))
    return found


def _suppression_list(
    spark: SparkSession, read: Callable[[TableSpec], DataFrame], as_of: AsOf | None
) -> DataFrame | None:
    """The digests of the people erased by `as_of` (None: nobody, or no list yet)."""
    if not spark.catalog.tableExists(SUPPRESSION_LIST.qualified_name):
        return None
    try:
        return read(SUPPRESSION_LIST).select("digest").distinct()
    except AsOfError:  # the list did not exist yet at that point
        return None


def _unfinished_or_retained(
    spark: SparkSession, warehouse: str
) -> dict[str, tuple[DataFrame, str]]:
    """Erasures cut short, and erased people in files still on disk that the current version
    does not read (older versions', which time travel reads, and orphans) once their erasure's
    retention is over: the checks of the current tables cannot see either."""

    def stored(table: TableSpec) -> DataFrame | None:
        # By location: the erasure may have made the table in another session.
        location = table.location(warehouse)
        return spark.read.format("delta").load(location) if is_delta_table(location) else None

    suppressed = stored(SUPPRESSION_LIST)
    if suppressed is None:
        return {}
    requests = stored(ERASURES)
    if requests is None:
        requests = spark.createDataFrame([], ERASURES.row_schema)
    checks = {
        f"{ERASURES.qualified_name} (unfinished erasure)": (
            requests.where(F.col("completed_at").isNull()),
            "digest",
        )
    }
    over = retention_over(requests, suppressed, datetime.now(UTC))
    over = spark.createDataFrame(over.collect(), "digest STRING")  # small: read once
    if over.isEmpty():
        return checks
    for table, column in (*NAMING_TABLES, (QUARANTINE, "raw")):
        location = table.location(warehouse)
        files = files_not_current(location) if is_delta_table(location) else []
        if not files:
            continue
        held = spark.read.parquet(*files)
        named = (
            held.select(F.explode(emails_in("raw")).alias("email"))
            if table == QUARANTINE
            else held.select(F.col(column).alias("email"))
        )
        checks[f"{table.qualified_name} (erased person in a retained file)"] = (
            named.select(digest_of(F.col("email")).alias("digest")).join(
                over, "digest", "left_semi"
            ),
            "digest",
        )
    return checks

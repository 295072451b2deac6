from __future__ import annotations

from pyspark.sql import SparkSession

from silver.transforms import (
    latest_record_per_customer,
    pseudonym,
    readings_of,
    sanitize_customers,
    trusted_customers,
    trusted_step_trainer,
)
from tests.expected import pseudonym as python_pseudonym
from tests.helpers import rows

LANDED_CUSTOMER = (
    "customerName STRING, email STRING, phone STRING, birthDay STRING, serialNumber STRING, "
    "registrationDate BIGINT, lastUpdateDate BIGINT, shareWithResearchAsOfDate BIGINT, "
    "shareWithPublicAsOfDate BIGINT, shareWithFriendsAsOfDate BIGINT, "
    "_source_file STRING, _batch BIGINT, _source_line INT"
)
CONSENT = "email STRING, serialNumber STRING, shareWithResearchAsOfDate BIGINT"


def customer(
    email: str, updated: int, consent: int | None, line: int = 1, birth: str = "1980-02-03"
):  # type: ignore[no-untyped-def]
    return (
        "N",
        email,
        "801-555-1212",
        birth,
        "s1",
        1,
        updated,
        consent,
        None,
        None,
        "c.json",
        1,
        line,
    )


def test_latest_record_decides_consent(spark: SparkSession) -> None:
    landed = spark.createDataFrame(
        [
            customer("granted-later@x", 1, None, 1),
            customer("granted-later@x", 2, 100, 2),
            customer("withdrawn@x", 1, 100, 3),
            customer("withdrawn@x", 2, None, 4),
            customer("never@x", 1, None, 5),
        ],
        LANDED_CUSTOMER,
    )
    trusted = landed.transform(trusted_customers("salt"))
    assert rows(trusted, "email", "shareWithResearchAsOfDate", "customer_key") == [
        ("granted-later@x", 100, python_pseudonym("salt", "granted-later@x"))
    ]


def test_ties_on_last_update_go_to_the_later_line(spark: SparkSession) -> None:
    landed = spark.createDataFrame(
        [customer("a@x", 5, 1, line=1), customer("a@x", 5, None, line=2)], LANDED_CUSTOMER
    )
    assert rows(landed.transform(latest_record_per_customer), "_source_line") == [(2,)]


def test_junk_birthdays_and_phones_become_null(spark: SparkSession) -> None:
    day = 86_400_000
    landed = spark.createDataFrame(
        [
            customer("ok@x", 20_000 * day, 1, birth="1980-02-03"),
            customer("short@x", 20_000 * day, 1, birth="993-01-01"),
            customer("ancient@x", 20_000 * day, 1, birth="0993-06-14"),
            customer("unborn@x", 1 * day, 1, birth="1980-02-03"),
            customer("nodate@x", 20_000 * day, 1, birth="yesterday"),
        ],
        LANDED_CUSTOMER,
    )
    clean = dict(rows(landed.transform(sanitize_customers), "email", "birthDay"))
    assert str(clean["ok@x"]) == "1980-02-03"
    assert [clean[e] for e in ("short@x", "ancient@x", "unborn@x", "nodate@x")] == [None] * 4
    assert rows(landed.transform(sanitize_customers), "phone")[0] == ("8015551212",)


def test_readings_only_of_consenting_customers_and_after_consent(spark: SparkSession) -> None:
    customers = spark.createDataFrame([("a@x", "s1", 100)], CONSENT)
    readings = spark.createDataFrame(
        [("a@x", 99), ("a@x", 100), ("a@x", 101), ("b@x", 200)], "user STRING, timestamp BIGINT"
    )
    kept = readings.transform(readings_of(customers, consent_cutoff=True))
    assert rows(kept) == [("a@x", 100), ("a@x", 101)]
    everything = readings.transform(readings_of(customers, consent_cutoff=False))
    assert rows(everything) == [("a@x", 99), ("a@x", 100), ("a@x", 101)]


def test_a_shared_serial_admits_only_readings_at_a_trusted_owners_moments(
    spark: SparkSession,
) -> None:
    # a consents; another customer shares a's serial number but never consented.
    customers = spark.createDataFrame([("a@x", "shared", 100)], CONSENT)
    accelerometer = spark.createDataFrame(
        [("ra", "a@x", 150, 0.0, 0.0, 0.0)],
        "reading_id STRING, user STRING, timestamp BIGINT, x DOUBLE, y DOUBLE, z DOUBLE",
    )
    steps = spark.createDataFrame(
        [(150, "shared", 1), (150, "shared", 1), (900, "shared", 2), (150, "other", 3)],
        "sensorReadingTime BIGINT, serialNumber STRING, distanceFromObject INT",
    )
    kept = steps.transform(trusted_step_trainer(customers, accelerometer))
    assert rows(kept, "sensorReadingTime", "serialNumber", "distanceFromObject") == [
        (150, "shared", 1)
    ]


def test_pseudonym_is_salted_sha256(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("a@x",)], "email STRING")
    from pyspark.sql import functions as F

    assert frame.select(pseudonym("s", F.col("email"))).first()[0] == python_pseudonym("s", "a@x")  # type: ignore[index]

"""gold.job's build factories: what each curated table holds for an increment, and its scope.

The lake of tests/silver/test_builds.py, with its silver tables. Batch 1 lands customers a, b,
c (no consent), e, f and g with their readings; batch 2 brings b's withdrawal, a new customer
d, a late and older record of e (which changes nothing), new phone readings of a, c and f (f's
first), and new steps at 30 (a) and 9 (c). Changed in batch 2: b, d, e.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from gold.job import customer_curated_build, machine_learning_curated_build
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.core.catalog import TableSpec
from lakehouse.core.increments import Increment
from silver.transforms import trusted_accelerometer, trusted_customers, trusted_step_trainer
from tests.expected import pseudonym

SALT = "test-salt"
FULL = Increment(None, 2)
AFTER_FIRST = Increment(1, 2)
EVERYONE = ("a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x")
CHANGED = ("b@x", "d@x", "e@x")

Row = dict[str, object]


def customer(
    email: str, serial: str, batch: int, *, updated: int = 1, consent: int | None = 0
) -> Row:
    return {
        "customerName": email.split("@")[0],
        "email": email,
        "serialNumber": serial,
        "registrationDate": 1,
        "lastUpdateDate": updated,
        "shareWithResearchAsOfDate": consent,
        "_batch": batch,
    }


def reading(user: str, timestamp: int, batch: int) -> Row:
    return {"user": user, "timestamp": timestamp, "x": 1.0, "y": 2.0, "z": 3.0, "_batch": batch}


def step(time: int, serial: str, batch: int) -> Row:
    return {
        "sensorReadingTime": time,
        "serialNumber": serial,
        "distanceFromObject": 7,
        "_batch": batch,
    }


def landing(spark: SparkSession, table: TableSpec, rows: Iterable[Row]) -> DataFrame:
    """Rows of a landing table (lineage: one file per batch, one line per row; None elsewhere)."""
    lineage = [
        {"_source_file": f"{table.name}-{row['_batch']}.json", "_source_line": line, **row}
        for line, row in enumerate(rows, 1)
    ]
    values = [tuple(row.get(column) for column in table.column_names) for row in lineage]
    return spark.createDataFrame(values, table.row_schema)


def only(rows: DataFrame, column: str, values: Iterable[object]) -> DataFrame:
    return rows.where(F.col(column).isin(list(values)))


def emails(spark: SparkSession, column: str, *values: str) -> DataFrame:
    return spark.createDataFrame([(value,) for value in values], f"{column} STRING")


@dataclass(frozen=True)
class Lake:
    customer_landing: DataFrame
    phone_landing: DataFrame
    step_landing: DataFrame
    customer_trusted: DataFrame
    accelerometer_trusted: DataFrame
    step_trainer_trusted: DataFrame


@pytest.fixture(scope="module")
def lake(spark: SparkSession) -> Lake:
    customers = landing(
        spark,
        CUSTOMER_LANDING,
        [
            customer("a@x", "s1", 1),
            customer("b@x", "s2", 1),
            customer("c@x", "s3", 1, consent=None),
            customer("e@x", "s5", 1, updated=5),
            customer("f@x", "s6", 1),
            customer("g@x", "s7", 1),
            customer("b@x", "s2", 2, updated=2, consent=None),
            customer("d@x", "s4", 2),
            customer("e@x", "s5", 2, updated=1, consent=None),
        ],
    )
    phone = landing(
        spark,
        ACCELEROMETER_LANDING,
        [
            reading(user, time, batch)
            for user, time, batch in [
                *[("a@x", 10, 1), ("a@x", 30, 1), ("b@x", 7, 1), ("c@x", 9, 1)],
                *[("d@x", 5, 1), ("e@x", 8, 1), ("g@x", 50, 1)],
                *[("a@x", 20, 2), ("c@x", 21, 2), ("f@x", 40, 2)],
            ]
        ],
    )
    steps = landing(
        spark,
        STEP_TRAINER_LANDING,
        [
            step(time, serial, batch)
            for time, serial, batch in [
                *[(10, "s1", 1), (20, "s1", 1), (7, "s2", 1), (5, "s4", 1)],
                *[(8, "s5", 1), (40, "s6", 1), (50, "s7", 1)],
                *[(30, "s1", 2), (9, "s3", 2)],
            ]
        ],
    )
    customer_trusted = customers.transform(trusted_customers(SALT))
    accelerometer_trusted = phone.transform(
        trusted_accelerometer(customer_trusted, consent_cutoff=True)
    )
    step_trainer_trusted = steps.transform(
        trusted_step_trainer(customer_trusted, accelerometer_trusted)
    )
    return Lake(
        customers, phone, steps, customer_trusted, accelerometer_trusted, step_trainer_trusted
    )


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
    assertDataFrameEqual(scope, emails(spark, "email", *EVERYONE))


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
    assertDataFrameEqual(scope, emails(spark, "email", *CHANGED))


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

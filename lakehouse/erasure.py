"""Right to erasure: remove one customer's rows from every table, bronze included.

Rows are deleted with the same MERGE path as every write (a deletion scope and no new rows),
so each table gets one new version. Old versions still hold the data until `vacuum` deletes
their files; `erase` runs it with a configurable retention. The ledger records the erasure
under a digest of the email, never the email itself. Files in the landing zone are outside
the warehouse: the report names the ones holding the customer's records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from bronze.job import LANDING_TABLES, QUARANTINE
from gold.job import CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from lakehouse.catalog import TableSpec
from lakehouse.run import RunContext, TableResult
from silver.changes import MOMENT
from silver.job import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import FIELD_SEPARATOR


@dataclass(frozen=True)
class Erasure:
    results: list[TableResult]
    landing_files: list[str]


def email_digest(email: str) -> str:
    """How the ledger names an erased customer."""
    return "sha256:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def customer_key(salt: str, email: str) -> str:
    """The pseudonym gold uses (the same as `silver.transforms.pseudonym`)."""
    return hashlib.sha256(f"{salt}{FIELD_SEPARATOR}{email}".encode()).hexdigest()


def erase_customer(ctx: RunContext, email: str) -> Erasure:
    customers = ctx.table(LANDING_TABLES["customer"]).where(F.col("email") == email)
    readings = ctx.table(LANDING_TABLES["accelerometer"]).where(F.col("user") == email)
    # Step readings carry no identity: theirs are those at their serial numbers and times.
    moments = (
        customers.select("serialNumber")
        .distinct()
        .crossJoin(readings.select(F.col("timestamp").alias("sensorReadingTime")).distinct())
    )
    moments = ctx.spark.createDataFrame(moments.collect(), moments.schema)  # before deleting
    files = sorted({row[0] for frame in (customers, readings) for row in _files(frame)})
    key = customer_key(ctx.config.privacy.pseudonym_salt, email)

    def at_moments(rows: DataFrame) -> DataFrame:
        return rows.join(moments, list(MOMENT), "left_semi")

    plan: list[tuple[TableSpec, Callable[[DataFrame], DataFrame]]] = [
        (LANDING_TABLES["step_trainer"], at_moments),
        (LANDING_TABLES["customer"], lambda rows: rows.where(F.col("email") == email)),
        (LANDING_TABLES["accelerometer"], lambda rows: rows.where(F.col("user") == email)),
        (QUARANTINE, lambda rows: rows.where(F.instr("raw", email) > 0)),
        (CUSTOMER_TRUSTED, lambda rows: rows.where(F.col("email") == email)),
        (ACCELEROMETER_TRUSTED, lambda rows: rows.where(F.col("user") == email)),
        (STEP_TRAINER_TRUSTED, at_moments),
        (CUSTOMER_CURATED, lambda rows: rows.where(F.col("email") == email)),
        (MACHINE_LEARNING_CURATED, lambda rows: rows.where(F.col("customer_key") == key)),
    ]
    results = [delete_rows(ctx, table, select) for table, select in plan]
    return Erasure(results, files)


def _files(rows: DataFrame) -> list[tuple[str]]:
    return [tuple(row) for row in rows.select("_source_file").distinct().collect()]


def delete_rows(
    ctx: RunContext, table: TableSpec, select: Callable[[DataFrame], DataFrame]
) -> TableResult:
    """Delete the rows `select` picks: a MERGE with them as deletion scope and no new rows."""
    target = ctx.table(table)
    merge = ctx.merge(target.limit(0), table, scope=select(target).select(*table.keys))
    return TableResult.of(merge, read=0)

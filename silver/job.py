"""Silver job: bronze landing tables -> trusted tables (consenting customers, their readings).

Each table is refreshed from the bronze batches it has not processed yet (see
`lakehouse.increments`): the customers and moments those batches touch are recomputed and
MERGEd, including deletions when a consent was withdrawn or moved later.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from bronze.job import LANDING_TABLES, latest_batch
from lakehouse.catalog import TableSpec
from lakehouse.increments import Increment, refresh
from lakehouse.run import RunContext, TableJob, TableResult
from silver.changes import MOMENT, changed_customers, fresh, touched_moments, touched_readings
from silver.transforms import (
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
)

CUSTOMER_TRUSTED = TableSpec("silver", "customer_trusted", ("email",))
ACCELEROMETER_TRUSTED = TableSpec("silver", "accelerometer_trusted", ("reading_id",))
STEP_TRAINER_TRUSTED = TableSpec("silver", "step_trainer_trusted", ("reading_id",))


def build_customer_trusted(ctx: RunContext) -> list[TableResult]:
    landing = ctx.table(LANDING_TABLES["customer"])
    rule = trusted_customers(ctx.config.privacy.pseudonym_salt)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        changed = changed_customers(landing, increment.since_batch)
        if increment.full:
            return landing.transform(rule), changed
        return landing.join(changed, "email", "left_semi").transform(rule), changed

    return [refresh(ctx, CUSTOMER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_accelerometer_trusted(ctx: RunContext) -> list[TableResult]:
    customers = ctx.table(CUSTOMER_TRUSTED)
    landing = ctx.table(LANDING_TABLES["accelerometer"])
    rule = trusted_accelerometer(customers, consent_cutoff=ctx.config.privacy.consent_cutoff)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        changed = changed_customers(ctx.table(LANDING_TABLES["customer"]), increment.since_batch)
        scope = changed.withColumnRenamed("email", "user")
        if increment.full:
            return landing.transform(rule), scope
        return touched_readings(landing, changed, increment.since_batch).transform(rule), scope

    return [refresh(ctx, ACCELEROMETER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_step_trainer_trusted(ctx: RunContext) -> list[TableResult]:
    customers = ctx.table(CUSTOMER_TRUSTED)
    accelerometer = ctx.table(ACCELEROMETER_TRUSTED)
    landing = ctx.table(LANDING_TABLES["step_trainer"])
    rule = trusted_step_trainer(customers, accelerometer)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        moments = touched_moments_since(ctx, increment.since_batch)
        if increment.full:
            return landing.transform(rule), moments
        candidates = fresh(landing, increment.since_batch).unionByName(
            landing.join(moments, list(MOMENT), "left_semi")
        )
        return candidates.transform(rule), moments

    return [refresh(ctx, STEP_TRAINER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def touched_moments_since(ctx: RunContext, since_batch: int | None) -> DataFrame:
    customers = ctx.table(LANDING_TABLES["customer"])
    return touched_moments(
        customers,
        ctx.table(LANDING_TABLES["accelerometer"]),
        changed_customers(customers, since_batch),
        since_batch,
    )


JOBS = [
    TableJob(CUSTOMER_TRUSTED.qualified_name, build_customer_trusted),
    TableJob(ACCELEROMETER_TRUSTED.qualified_name, build_accelerometer_trusted),
    TableJob(STEP_TRAINER_TRUSTED.qualified_name, build_step_trainer_trusted),
]

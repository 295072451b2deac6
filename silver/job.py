"""Silver job: bronze landing tables -> trusted tables (consenting customers, their readings).

Each table is refreshed from the bronze batches it has not processed yet (see
`lakehouse.core.increments`): what those batches touch is recomputed and MERGEd, and the rows of
changed customers that are no longer eligible are deleted (a consent withdrawn or moved).
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from bronze.job import LANDING_TABLES, latest_batch
from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableJob, TableResult
from lakehouse.core.increments import Increment, refresh
from silver.changes import (
    MOMENT,
    at_moment_times,
    changed_customers,
    fresh,
    moments_of,
    readings_of_customers,
    touched_readings,
)
from silver.transforms import (
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
    with_normalised_email,
)

CUSTOMER_TRUSTED = TableSpec("silver", "customer_trusted", ("email",))
# Readings are keyed by a digest of their fields (`with_row_id`): rows never change.
ACCELEROMETER_TRUSTED = TableSpec(
    "silver", "accelerometer_trusted", ("reading_id",), content_keyed=True
)
STEP_TRAINER_TRUSTED = TableSpec(
    "silver", "step_trainer_trusted", ("reading_id",), content_keyed=True
)

CUSTOMERS = LANDING_TABLES["customer"]
ACCELEROMETER = LANDING_TABLES["accelerometer"]
STEP_TRAINER = LANDING_TABLES["step_trainer"]


def customer_records(ctx: RunContext) -> DataFrame:
    """bronze.customer_landing as silver and gold see it: one spelling of each email."""
    return ctx.table(CUSTOMERS).transform(with_normalised_email("email"))


def phone_readings(ctx: RunContext) -> DataFrame:
    """bronze.accelerometer_landing as silver and gold see it: one spelling of each email."""
    return ctx.table(ACCELEROMETER).transform(with_normalised_email("user"))


def build_customer_trusted(ctx: RunContext) -> list[TableResult]:
    landing = customer_records(ctx)
    rule = trusted_customers(ctx.config.privacy.pseudonym_salt)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        changed = changed_customers(landing, increment.since_batch)
        if increment.full:
            return landing.transform(rule), changed
        return landing.join(changed, "email", "left_semi").transform(rule), changed

    return [refresh(ctx, CUSTOMER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_accelerometer_trusted(ctx: RunContext) -> list[TableResult]:
    landing = phone_readings(ctx)
    rule = trusted_accelerometer(
        ctx.table(CUSTOMER_TRUSTED), consent_cutoff=ctx.config.privacy.consent_cutoff
    )

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        changed = changed_customers(customer_records(ctx), since)
        leaving = changed.withColumnRenamed("email", "user")
        if increment.full:
            return landing.transform(rule), leaving
        return touched_readings(landing, changed, since).transform(rule), leaving

    return [refresh(ctx, ACCELEROMETER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_step_trainer_trusted(ctx: RunContext) -> list[TableResult]:
    customers = ctx.table(CUSTOMER_TRUSTED)
    accelerometer = ctx.table(ACCELEROMETER_TRUSTED)
    landing = ctx.table(STEP_TRAINER)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        if increment.full:
            rule = trusted_step_trainer(customers, accelerometer)
            return landing.transform(rule), landing.select(*MOMENT)
        touched, leaving = touched_and_leaving_moments(ctx, increment.since_batch)
        candidates = fresh(landing, increment.since_batch).unionByName(
            landing.join(touched, list(MOMENT), "left_semi")
        )
        # Only readings at the candidates' milliseconds can attribute them.
        nearby = at_moment_times(accelerometer, "timestamp", candidates.select(*MOMENT))
        return candidates.transform(trusted_step_trainer(customers, nearby)), leaving

    return [refresh(ctx, STEP_TRAINER_TRUSTED, latest_batch(ctx.spark, ctx.warehouse), build)]


def touched_and_leaving_moments(
    ctx: RunContext, since_batch: int | None
) -> tuple[DataFrame, DataFrame]:
    """Moments whose step readings may enter (new readings, changed customers) or leave
    (changed customers only)."""
    customers = customer_records(ctx)
    accelerometer = phone_readings(ctx)
    changed = changed_customers(customers, since_batch)
    touched = moments_of(touched_readings(accelerometer, changed, since_batch), customers)
    leaving = moments_of(readings_of_customers(accelerometer, changed), customers)
    return touched, leaving


JOBS = [
    TableJob(CUSTOMER_TRUSTED.qualified_name, build_customer_trusted),
    TableJob(ACCELEROMETER_TRUSTED.qualified_name, build_accelerometer_trusted),
    TableJob(STEP_TRAINER_TRUSTED.qualified_name, build_step_trainer_trusted),
]

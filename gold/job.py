"""Gold job: silver trusted tables -> curated customers and the ML-ready dataset.

Refreshed like silver (see `lakehouse.increments`): the customers and moments that new bronze
batches touch are recomputed from silver and MERGEd, deletions included.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from bronze.job import LANDING_TABLES, latest_batch
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.catalog import TableSpec
from lakehouse.increments import Increment, refresh
from lakehouse.run import RunContext, TableJob, TableResult
from silver.changes import MOMENT, changed_customers, fresh
from silver.job import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_TRUSTED,
    STEP_TRAINER_TRUSTED,
    touched_moments_since,
)

CUSTOMER_CURATED = TableSpec("gold", "customer_curated", ("email",))
MACHINE_LEARNING_CURATED = TableSpec("gold", "machine_learning_curated", ("record_id",))


def build_customer_curated(ctx: RunContext) -> list[TableResult]:
    customers = ctx.table(CUSTOMER_TRUSTED)
    rule = customers_with_readings(ctx.table(ACCELEROMETER_TRUSTED))

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        new_readings = fresh(ctx.table(LANDING_TABLES["accelerometer"]), since)
        touched = changed_customers(ctx.table(LANDING_TABLES["customer"]), since).unionByName(
            new_readings.select(F.col("user").alias("email"))
        )
        if increment.full:
            return customers.transform(rule), touched
        return customers.join(touched, "email", "left_semi").transform(rule), touched

    return [refresh(ctx, CUSTOMER_CURATED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_machine_learning_curated(ctx: RunContext) -> list[TableResult]:
    steps = ctx.table(STEP_TRAINER_TRUSTED)
    rule = aligned_with_accelerometer(ctx.table(CUSTOMER_TRUSTED), ctx.table(ACCELEROMETER_TRUSTED))

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        new_steps = fresh(ctx.table(LANDING_TABLES["step_trainer"]), since)
        moments = touched_moments_since(ctx, since).unionByName(new_steps.select(*MOMENT))
        if increment.full:
            return steps.transform(rule), moments
        return steps.join(moments, list(MOMENT), "left_semi").transform(rule), moments

    return [refresh(ctx, MACHINE_LEARNING_CURATED, latest_batch(ctx.spark, ctx.warehouse), build)]


JOBS = [
    TableJob(CUSTOMER_CURATED.qualified_name, build_customer_curated),
    TableJob(MACHINE_LEARNING_CURATED.qualified_name, build_machine_learning_curated),
]

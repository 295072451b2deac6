"""Gold job: silver trusted tables -> curated customers and the ML-ready dataset.

Refreshed like silver (see `lakehouse.core.increments`): what new bronze batches touch is
recomputed from silver and MERGEd, and rows of changed customers that left are deleted.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from bronze.job import latest_batch
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableJob, TableResult
from lakehouse.core.increments import Increment, refresh
from silver.changes import MOMENT, at_moment_times, changed_customers, fresh
from silver.job import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_TRUSTED,
    STEP_TRAINER,
    STEP_TRAINER_TRUSTED,
    customer_records,
    phone_readings,
    touched_and_leaving_moments,
)
from silver.transforms import with_customer_key

CUSTOMER_CURATED = TableSpec("gold", "customer_curated", ("email",))
# record_id digests the two readings paired; every other column follows from them.
MACHINE_LEARNING_CURATED = TableSpec(
    "gold", "machine_learning_curated", ("record_id",), content_keyed=True
)


def build_customer_curated(ctx: RunContext) -> list[TableResult]:
    customers = ctx.table(CUSTOMER_TRUSTED)
    readings = ctx.table(ACCELEROMETER_TRUSTED)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        changed = changed_customers(customer_records(ctx), since)
        if increment.full:
            return customers.transform(customers_with_readings(readings)), changed
        new_users = fresh(phone_readings(ctx), since).select(F.col("user").alias("email"))
        touched = changed.unionByName(new_users).distinct()
        their_readings = readings.join(
            touched.withColumnRenamed("email", "user"), "user", "left_semi"
        )
        candidates = customers.join(touched, "email", "left_semi")
        return candidates.transform(customers_with_readings(their_readings)), changed

    return [refresh(ctx, CUSTOMER_CURATED, latest_batch(ctx.spark, ctx.warehouse), build)]


def build_machine_learning_curated(ctx: RunContext) -> list[TableResult]:
    steps = ctx.table(STEP_TRAINER_TRUSTED)
    customers = ctx.table(CUSTOMER_TRUSTED)
    accelerometer = ctx.table(ACCELEROMETER_TRUSTED)
    salt = ctx.config.privacy.pseudonym_salt

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        # Rows leave only with their customer, whom the pseudonymous key names.
        changed = changed_customers(customer_records(ctx), since)
        leaving = changed.transform(with_customer_key(salt)).select("customer_key")
        if increment.full:
            return steps.transform(aligned_with_accelerometer(customers, accelerometer)), leaving
        touched, _ = touched_and_leaving_moments(ctx, since)
        new_steps = fresh(ctx.table(STEP_TRAINER), since).select(*MOMENT)
        candidates = steps.join(touched.unionByName(new_steps), list(MOMENT), "left_semi")
        nearby = at_moment_times(accelerometer, "timestamp", candidates.select(*MOMENT))
        return candidates.transform(aligned_with_accelerometer(customers, nearby)), leaving

    return [refresh(ctx, MACHINE_LEARNING_CURATED, latest_batch(ctx.spark, ctx.warehouse), build)]


JOBS = [
    TableJob(CUSTOMER_CURATED.qualified_name, build_customer_curated),
    TableJob(MACHINE_LEARNING_CURATED.qualified_name, build_machine_learning_curated),
]

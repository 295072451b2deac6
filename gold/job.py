"""Gold job: silver trusted tables -> curated customers and the ML-ready dataset.

Refreshed like silver (see `lakehouse.core.increments`): what new bronze batches touch is
recomputed from silver and MERGEd, and rows of changed customers that left are deleted.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from bronze.tables import STEP_TRAINER_LANDING
from gold.tables import BUILT_FROM, CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.core.config import Config
from lakehouse.core.context import RunContext, TableJob, TableResult
from lakehouse.core.increments import Build, Increment, refresh
from silver.changes import (
    MOMENT,
    TouchedReadings,
    at_moment_times,
    changed_customers,
    fresh,
    touched_readings_after,
)
from silver.job import (
    Read,
    customer_records,
    phone_readings,
    shared_touched_readings,
    touched_and_leaving_moments,
)
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import with_customer_key


def build_customer_curated(ctx: RunContext) -> list[TableResult]:
    build = customer_curated_from(ctx.table, ctx.config, shared_touched_readings(ctx))
    return refresh(ctx, CUSTOMER_CURATED, build)


def build_machine_learning_curated(ctx: RunContext) -> list[TableResult]:
    build = machine_learning_curated_from(ctx.table, ctx.config, shared_touched_readings(ctx))
    return refresh(ctx, MACHINE_LEARNING_CURATED, build)


# Each table's build wired to the tables it reads and the settings it uses.


def customer_curated_from(
    read: Read, config: Config, touched: TouchedReadings | None = None
) -> Build:
    return customer_curated_build(
        customer_records(read),
        phone_readings(read),
        read(CUSTOMER_TRUSTED),
        read(ACCELEROMETER_TRUSTED),
        touched=touched,
    )


def machine_learning_curated_from(
    read: Read, config: Config, touched: TouchedReadings | None = None
) -> Build:
    return machine_learning_curated_build(
        customer_records(read),
        phone_readings(read),
        read(STEP_TRAINER_LANDING),
        read(STEP_TRAINER_TRUSTED),
        read(CUSTOMER_TRUSTED),
        read(ACCELEROMETER_TRUSTED),
        salt=config.privacy.pseudonym_salt,
        touched=touched,
    )


# What each table holds for an increment, and the scope that content completes: pure functions
# of the tables they are given (see `lakehouse.core.increments.Build`); `touched` as in silver.


def customer_curated_build(
    customer_landing: DataFrame,
    phone_landing: DataFrame,
    customer_trusted: DataFrame,
    accelerometer_trusted: DataFrame,
    *,
    touched: TouchedReadings | None = None,
) -> Build:
    find = touched or touched_readings_after(customer_landing, phone_landing)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        changed = changed_customers(customer_landing, since)
        if increment.full:
            rule = customers_with_readings(accelerometer_trusted)
            return customer_trusted.transform(rule), changed
        # The touched readings hold every new one.
        new_users = fresh(find(since), since).select(F.col("user").alias("email"))
        touched = changed.unionByName(new_users).distinct()
        their_readings = accelerometer_trusted.join(
            touched.withColumnRenamed("email", "user"), "user", "left_semi"
        )
        candidates = customer_trusted.join(touched, "email", "left_semi")
        return candidates.transform(customers_with_readings(their_readings)), changed

    return build


def machine_learning_curated_build(
    customer_landing: DataFrame,
    phone_landing: DataFrame,
    step_landing: DataFrame,
    step_trainer_trusted: DataFrame,
    customer_trusted: DataFrame,
    accelerometer_trusted: DataFrame,
    *,
    salt: str,
    touched: TouchedReadings | None = None,
) -> Build:
    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        # Rows leave only with their customer, whom the pseudonymous key names.
        changed = changed_customers(customer_landing, since)
        leaving = changed.transform(with_customer_key(salt)).select("customer_key")
        if increment.full:
            rule = aligned_with_accelerometer(customer_trusted, accelerometer_trusted)
            return step_trainer_trusted.transform(rule), leaving
        entering, _ = touched_and_leaving_moments(
            customer_landing, phone_landing, since, touched=touched
        )
        new_steps = fresh(step_landing, since).select(*MOMENT)
        candidates = step_trainer_trusted.join(
            entering.unionByName(new_steps), list(MOMENT), "left_semi"
        )
        nearby = at_moment_times(accelerometer_trusted, "timestamp", candidates.select(*MOMENT))
        return candidates.transform(aligned_with_accelerometer(customer_trusted, nearby)), leaving

    return build


JOBS = [
    TableJob(table.qualified_name, build, BUILT_FROM[table.qualified_name])
    for table, build in (
        (CUSTOMER_CURATED, build_customer_curated),
        (MACHINE_LEARNING_CURATED, build_machine_learning_curated),
    )
]

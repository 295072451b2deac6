"""Silver job: bronze landing tables -> trusted tables (consenting customers, their readings).

Each table is refreshed from the bronze batches it has not processed yet (see
`lakehouse.core.increments`): what those batches touch is recomputed and MERGEd, and the rows of
changed customers that are no longer eligible are deleted (a consent withdrawn or moved).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import Config
from lakehouse.core.context import RunContext, TableJob, TableResult
from lakehouse.core.increments import Build, Increment, refresh
from silver.changes import (
    MOMENT,
    TouchedReadings,
    at_moment_times,
    changed_customers,
    fresh,
    moments_of,
    readings_of_customers,
    touched_readings_after,
)
from silver.tables import (
    ACCELEROMETER_TRUSTED,
    BUILT_FROM,
    CUSTOMER_TRUSTED,
    STEP_TRAINER_TRUSTED,
)
from silver.transforms import (
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
    with_normalised_email,
)

Read = Callable[[TableSpec], DataFrame]
"""How a build reads its input tables (a run's `RunContext.table`, or a test's copies)."""


def customer_records(read: Read) -> DataFrame:
    """bronze.customer_landing as silver and gold see it: one spelling of each email."""
    return read(CUSTOMER_LANDING).transform(with_normalised_email("email"))


def phone_readings(read: Read) -> DataFrame:
    """bronze.accelerometer_landing as silver and gold see it: one spelling of each email."""
    return read(ACCELEROMETER_LANDING).transform(with_normalised_email("user"))


def shared_touched_readings(ctx: RunContext) -> TouchedReadings:
    """The touched readings after a batch, computed once per run for every table that needs
    them (each finding reads all of bronze's accelerometer readings)."""
    find = touched_readings_after(customer_records(ctx.table), ctx.table(ACCELEROMETER_LANDING))
    return lambda since: ctx.shared(f"silver.touched_readings.after_{since}", lambda: find(since))


def build_customer_trusted(ctx: RunContext) -> list[TableResult]:
    return refresh(ctx, CUSTOMER_TRUSTED, customer_trusted_from(ctx.table, ctx.config))


def build_accelerometer_trusted(ctx: RunContext) -> list[TableResult]:
    build = accelerometer_trusted_from(ctx.table, ctx.config, shared_touched_readings(ctx))
    return refresh(ctx, ACCELEROMETER_TRUSTED, build)


def build_step_trainer_trusted(ctx: RunContext) -> list[TableResult]:
    build = step_trainer_trusted_from(ctx.table, ctx.config, shared_touched_readings(ctx))
    return refresh(ctx, STEP_TRAINER_TRUSTED, build)


# Each table's build wired to the tables it reads and the settings it uses.


def customer_trusted_from(read: Read, config: Config) -> Build:
    return customer_trusted_build(customer_records(read), config.privacy.pseudonym_salt)


def accelerometer_trusted_from(
    read: Read, config: Config, touched: TouchedReadings | None = None
) -> Build:
    return accelerometer_trusted_build(
        customer_records(read),
        phone_readings(read),
        read(CUSTOMER_TRUSTED),
        consent_cutoff=config.privacy.consent_cutoff,
        touched=touched,
    )


def step_trainer_trusted_from(
    read: Read, config: Config, touched: TouchedReadings | None = None
) -> Build:
    return step_trainer_trusted_build(
        customer_records(read),
        phone_readings(read),
        read(STEP_TRAINER_LANDING),
        read(CUSTOMER_TRUSTED),
        read(ACCELEROMETER_TRUSTED),
        touched=touched,
    )


# What each table holds for an increment, and the scope that content completes: pure functions
# of the tables they are given (see `lakehouse.core.increments.Build`). `touched` finds the
# touched readings; by default from the landing tables given, a run shares one finding.


def customer_trusted_build(customer_landing: DataFrame, salt: str) -> Build:
    rule = trusted_customers(salt)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        changed = changed_customers(customer_landing, increment.since_batch)
        if increment.full:
            return customer_landing.transform(rule), changed
        return customer_landing.join(changed, "email", "left_semi").transform(rule), changed

    return build


def accelerometer_trusted_build(
    customer_landing: DataFrame,
    phone_landing: DataFrame,
    customer_trusted: DataFrame,
    *,
    consent_cutoff: bool,
    touched: TouchedReadings | None = None,
) -> Build:
    rule = trusted_accelerometer(customer_trusted, consent_cutoff=consent_cutoff)
    find = touched or touched_readings_after(customer_landing, phone_landing)

    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        changed = changed_customers(customer_landing, since)
        leaving = changed.withColumnRenamed("email", "user")
        if increment.full:
            return phone_landing.transform(rule), leaving
        return find(since).transform(rule), leaving

    return build


def step_trainer_trusted_build(
    customer_landing: DataFrame,
    phone_landing: DataFrame,
    step_landing: DataFrame,
    customer_trusted: DataFrame,
    accelerometer_trusted: DataFrame,
    *,
    touched: TouchedReadings | None = None,
) -> Build:
    def build(increment: Increment) -> tuple[DataFrame, DataFrame]:
        since = increment.since_batch
        if increment.full:
            rule = trusted_step_trainer(customer_trusted, accelerometer_trusted)
            return step_landing.transform(rule), step_landing.select(*MOMENT)
        entering, leaving = touched_and_leaving_moments(
            customer_landing, phone_landing, since, touched=touched
        )
        candidates = fresh(step_landing, since).unionByName(
            step_landing.join(entering, list(MOMENT), "left_semi")
        )
        # Only readings at the candidates' milliseconds can attribute them.
        nearby = at_moment_times(accelerometer_trusted, "timestamp", candidates.select(*MOMENT))
        return candidates.transform(trusted_step_trainer(customer_trusted, nearby)), leaving

    return build


def touched_and_leaving_moments(
    customer_landing: DataFrame,
    phone_landing: DataFrame,
    since_batch: int | None,
    *,
    touched: TouchedReadings | None = None,
) -> tuple[DataFrame, DataFrame]:
    """Moments whose step readings may enter (new readings, changed customers) or leave
    (changed customers only)."""
    readings = (touched or touched_readings_after(customer_landing, phone_landing))(since_batch)
    changed = changed_customers(customer_landing, since_batch)
    # The touched readings hold every reading of a changed customer.
    leaving = moments_of(readings_of_customers(readings, changed), customer_landing)
    return moments_of(readings, customer_landing), leaving


JOBS = [
    TableJob(table.qualified_name, build, BUILT_FROM[table.qualified_name])
    for table, build in (
        (CUSTOMER_TRUSTED, build_customer_trusted),
        (ACCELEROMETER_TRUSTED, build_accelerometer_trusted),
        (STEP_TRAINER_TRUSTED, build_step_trainer_trusted),
    )
]

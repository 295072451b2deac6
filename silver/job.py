"""Silver job: bronze landing tables -> trusted tables (consenting customers, their readings)."""

from __future__ import annotations

from pyspark.sql import DataFrame

from bronze.job import LANDING_TABLES
from lakehouse.catalog import TableSpec
from lakehouse.run import RunContext, TableJob, TableResult, source_rows
from silver.transforms import (
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
)

CUSTOMER_TRUSTED = TableSpec("silver", "customer_trusted", ("email",))
ACCELEROMETER_TRUSTED = TableSpec("silver", "accelerometer_trusted", ("reading_id",))
STEP_TRAINER_TRUSTED = TableSpec("silver", "step_trainer_trusted", ("reading_id",))


def build_customer_trusted(ctx: RunContext) -> list[TableResult]:
    landing = ctx.spark.table(LANDING_TABLES["customer"].qualified_name)
    trusted = landing.transform(trusted_customers(ctx.config.privacy.pseudonym_salt))
    return [_replace_content(ctx, trusted, CUSTOMER_TRUSTED)]


def build_accelerometer_trusted(ctx: RunContext) -> list[TableResult]:
    customers = ctx.spark.table(CUSTOMER_TRUSTED.qualified_name)
    landing = ctx.spark.table(LANDING_TABLES["accelerometer"].qualified_name)
    trusted = landing.transform(
        trusted_accelerometer(customers, consent_cutoff=ctx.config.privacy.consent_cutoff)
    )
    return [_replace_content(ctx, trusted, ACCELEROMETER_TRUSTED)]


def build_step_trainer_trusted(ctx: RunContext) -> list[TableResult]:
    customers = ctx.spark.table(CUSTOMER_TRUSTED.qualified_name)
    accelerometer = ctx.spark.table(ACCELEROMETER_TRUSTED.qualified_name)
    landing = ctx.spark.table(LANDING_TABLES["step_trainer"].qualified_name)
    trusted = landing.transform(trusted_step_trainer(customers, accelerometer))
    return [_replace_content(ctx, trusted, STEP_TRAINER_TRUSTED)]


def _replace_content(ctx: RunContext, content: DataFrame, table: TableSpec) -> TableResult:
    """MERGE the table's complete new content: insert, update changed, delete what left."""
    ctx.ensure(table)
    merge = ctx.merge(content, table, delete_unmatched=True)
    return TableResult.of(merge, read=source_rows(merge, content))


JOBS = [
    TableJob(CUSTOMER_TRUSTED.qualified_name, build_customer_trusted),
    TableJob(ACCELEROMETER_TRUSTED.qualified_name, build_accelerometer_trusted),
    TableJob(STEP_TRAINER_TRUSTED.qualified_name, build_step_trainer_trusted),
]

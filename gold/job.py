"""Gold job: silver trusted tables -> curated customers and the ML-ready dataset."""

from __future__ import annotations

from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.catalog import TableSpec
from lakehouse.run import RunContext, TableJob, TableResult, source_rows
from silver.job import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED

CUSTOMER_CURATED = TableSpec("gold", "customer_curated", ("email",))
MACHINE_LEARNING_CURATED = TableSpec("gold", "machine_learning_curated", ("record_id",))


def build_customer_curated(ctx: RunContext) -> list[TableResult]:
    readings = ctx.spark.table(ACCELEROMETER_TRUSTED.qualified_name)
    curated = ctx.spark.table(CUSTOMER_TRUSTED.qualified_name).transform(
        customers_with_readings(readings)
    )
    ctx.ensure(CUSTOMER_CURATED)
    merge = ctx.merge(curated, CUSTOMER_CURATED, delete_unmatched=True)
    return [TableResult.of(merge, read=source_rows(merge, curated))]


def build_machine_learning_curated(ctx: RunContext) -> list[TableResult]:
    customers = ctx.spark.table(CUSTOMER_TRUSTED.qualified_name)
    accelerometer = ctx.spark.table(ACCELEROMETER_TRUSTED.qualified_name)
    aligned = ctx.spark.table(STEP_TRAINER_TRUSTED.qualified_name).transform(
        aligned_with_accelerometer(customers, accelerometer)
    )
    ctx.ensure(MACHINE_LEARNING_CURATED)
    merge = ctx.merge(aligned, MACHINE_LEARNING_CURATED, delete_unmatched=True)
    return [TableResult.of(merge, read=source_rows(merge, aligned))]


JOBS = [
    TableJob(CUSTOMER_CURATED.qualified_name, build_customer_curated),
    TableJob(MACHINE_LEARNING_CURATED.qualified_name, build_machine_learning_curated),
]

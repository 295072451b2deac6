"""Runs the layers in order: bronze -> silver -> gold, table by table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from bronze.job import JOBS as BRONZE_JOBS
from bronze.job import latest_batch
from gold.job import JOBS as GOLD_JOBS
from lakehouse.catalog import attach_warehouse
from lakehouse.config import Config, ConfigError, require_landing
from lakehouse.ledger import record_end, record_start
from lakehouse.lock import warehouse_lock
from lakehouse.progress import Progress
from lakehouse.run import RunContext, TableJob, TableResult
from silver.job import JOBS as SILVER_JOBS

LAYERS: dict[str, list[TableJob]] = {
    "bronze": BRONZE_JOBS,
    "silver": SILVER_JOBS,
    "gold": GOLD_JOBS,
}


def select_jobs(target: str | None = None) -> list[TableJob]:
    """All jobs, one layer's (`silver`), or one table's (`silver.customer_trusted`)."""
    every = [job for jobs in LAYERS.values() for job in jobs]
    if target is None or target == "all":
        return every
    if target in LAYERS:
        return LAYERS[target]
    chosen = [job for job in every if job.table == target]
    if not chosen:
        names = ", ".join(["all", *LAYERS, *(job.table for job in every)])
        raise ConfigError(f"nothing to run named {target!r}: choose one of {names}")
    return chosen


def run_pipeline(
    spark: SparkSession,
    config: Config,
    target: str | None = None,
    progress: Progress | None = None,
) -> tuple[str, list[TableResult]]:
    """Run the selected jobs against the configured warehouse; return the run id and results."""
    require_landing(config)
    jobs = select_jobs(target)
    now = datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    warehouse = config.paths.warehouse
    with warehouse_lock(warehouse, run_id, config.run.lock_timeout_seconds):
        attached = attach_warehouse(spark, warehouse)
        batch = latest_batch(spark, warehouse) + 1
        ctx = RunContext(spark, config, run_id, now, batch, ensured=set(attached))
        named = target or "all"
        record_start(ctx, "run", named)
        results: list[TableResult] = []
        try:
            run_jobs(ctx, jobs, progress or Progress(len(jobs)), results)
        except Exception as error:  # recorded, then raised; a crash (kill) records nothing
            record_end(ctx, "run", named, results, error)
            raise
        record_end(ctx, "run", named, results)
        return run_id, results


def run_jobs(
    ctx: RunContext, jobs: list[TableJob], progress: Progress, results: list[TableResult]
) -> None:
    """Run the jobs in order, appending each one's results as it finishes."""
    for job in jobs:
        with progress.step(job.table):
            results.extend(job.run(ctx))

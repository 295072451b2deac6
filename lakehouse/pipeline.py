"""Runs the layers in order: bronze -> silver -> gold, table by table."""

from __future__ import annotations

from bronze.job import JOBS as BRONZE_JOBS
from gold.job import JOBS as GOLD_JOBS
from lakehouse.config import ConfigError
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


def run_jobs(ctx: RunContext, jobs: list[TableJob], progress: Progress) -> list[TableResult]:
    results: list[TableResult] = []
    for job in jobs:
        with progress.step(job.table):
            results.extend(job.run(ctx))
    return results

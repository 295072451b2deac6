"""Runs the layers in order: bronze -> silver -> gold, table by table."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from bronze.job import JOBS as BRONZE_JOBS
from bronze.job import latest_batch
from bronze.tables import SOURCES
from gold.job import JOBS as GOLD_JOBS
from lakehouse.app.tables import TABLES
from lakehouse.core.catalog import attach_warehouse, table_location
from lakehouse.core.compaction import compact_small_files
from lakehouse.core.config import CatalogKind, Config, ConfigError, require_landing
from lakehouse.core.context import Batches, RunContext, TableJob, TableResult
from lakehouse.core.engine import brief, interrupt_engine
from lakehouse.core.glue import catalog_table, check_ownership, register_tables
from lakehouse.core.interrupt import Interrupted
from lakehouse.core.lock import warehouse_lock
from lakehouse.core.progress import Progress
from lakehouse.core.run_log import record_end, record_start
from lakehouse.core.scratch import STAGING
from lakehouse.core.secrets import with_pseudonym_salt
from lakehouse.core.storage import join, remove_tree
from silver.job import JOBS as SILVER_JOBS

log = logging.getLogger(__name__)

# Bump when a rule that shapes silver or gold changes: the next run then rebuilds them in full.
# 2: emails are matched trimmed and lower-cased (`lakehouse.core.identity.normalised_email`).
RULES_VERSION = 2

LAYERS: dict[str, list[TableJob]] = {
    "bronze": BRONZE_JOBS,
    "silver": SILVER_JOBS,
    "gold": GOLD_JOBS,
}


def rules_digest(config: Config) -> str:
    """A digest of the rules and settings silver and gold content depends on (never the salt
    itself): a change rebuilds them in full."""
    privacy = config.privacy
    settings = f"{RULES_VERSION}|{privacy.consent_cutoff}|{privacy.pseudonym_salt}"
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


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
    require_landing(config, SOURCES)
    jobs = select_jobs(target)
    with operation(spark, config, "run", target or "all") as (ctx, results):
        run_jobs(ctx, jobs, progress or Progress(len(jobs)), results)
        above = config.maintenance.compact_above_files
        results.extend(compact_small_files(ctx, sorted(ctx.ensured), above))
    return ctx.run_id, results


@contextmanager
def operation(
    spark: SparkSession, config: Config, command: str, target: str
) -> Iterator[tuple[RunContext, list[TableResult]]]:
    """Hold the warehouse, give the work a context, and record it in the run log.

    The caller appends what it did to the results list; a failure is recorded and re-raised,
    and so is an interruption (Ctrl-C, SIGTERM: status `interrupted`). A crash (a kill) records
    nothing: the next operation marks the run interrupted.
    """
    now = datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    warehouse = config.paths.warehouse
    run = config.run
    if config.catalog.kind == CatalogKind.glue:  # before the lock: nothing written if it fails
        names = [table.qualified_name for table in TABLES]
        check_ownership(config.catalog, {name: table_location(warehouse, name) for name in names})
    with warehouse_lock(warehouse, run_id, run.lock_timeout_seconds, run.lease_seconds):
        # Scratch copies hold raw records; a killed run leaves its copies behind, and no other
        # writer can be using them while this one holds the warehouse.
        remove_tree(join(warehouse, STAGING))
        config = with_pseudonym_salt(config, create=True)
        attached = attach_warehouse(spark, warehouse)
        batches = Batches.after(latest_batch(spark, warehouse))
        digest = rules_digest(config)
        ctx = RunContext(spark, config, run_id, now, batches, digest, ensured=set(attached))
        record_start(ctx, command, target)
        results: list[TableResult] = []
        try:
            yield ctx, results
            if config.catalog.kind == CatalogKind.glue:
                publish_to_glue(ctx)
        except Interrupted as interruption:
            interruption.command, interruption.run_id = command, run_id
            _wind_down(ctx, command, target, results, interruption)
            raise
        except Exception as error:
            record_end(ctx, command, target, results, error)
            raise
        finally:
            remove_tree(join(warehouse, STAGING))  # the run's shared copies (`ctx.shared`)
        record_end(ctx, command, target, results)


def _wind_down(
    ctx: RunContext,
    command: str,
    target: str,
    results: list[TableResult],
    interruption: Interrupted,
) -> None:
    """After Ctrl-C or SIGTERM, while the warehouse is still held: stop, record, tidy up.

    The engine's queries are cancelled first, so nothing this run started can commit once the
    lock is released. Recording is best effort: when the engine cannot do it, the next run's
    `record_start` marks this run interrupted.
    """
    if interrupt_engine(ctx.spark):
        try:
            record_end(ctx, command, target, results, interruption)
            interruption.recorded = True
        except Exception as error:
            log.warning("could not record run %s as interrupted: %s", ctx.run_id, brief(error))
    # A cancelled write may have left a scratch copy behind after its own cleanup ran.
    remove_tree(join(ctx.warehouse, STAGING))


def publish_to_glue(ctx: RunContext) -> dict[str, str]:
    """Create or update the Glue entry of every table in the warehouse (idempotent)."""
    names = attach_warehouse(ctx.spark, ctx.warehouse)
    tables = [
        catalog_table(ctx.spark, ctx.config.catalog, name, table_location(ctx.warehouse, name))
        for name in names
    ]
    changes = register_tables(ctx.config.catalog, tables)
    changed = {name: what for name, what in changes.items() if what != "unchanged"}
    if changed:
        log.info("Glue catalog: %s", ", ".join(f"{n} {w}" for n, w in sorted(changed.items())))
    return changes


def run_jobs(
    ctx: RunContext, jobs: list[TableJob], progress: Progress, results: list[TableResult]
) -> None:
    """Run the jobs in order, appending each one's results as it finishes."""
    for job in jobs:
        with progress.step(job.table):
            results.extend(job.run(ctx))

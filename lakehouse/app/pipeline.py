"""Runs the layers in order: bronze -> silver -> gold, table by table."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from bronze.job import JOBS as BRONZE_JOBS
from bronze.job import latest_batch
from bronze.tables import QUARANTINE, SOURCES
from gold.job import JOBS as GOLD_JOBS
from lakehouse.app.errors import RulesFailed, RunFailed
from lakehouse.app.plan import (
    check_rekey,
    full_refresh_tables,
    quality_rules,
    rules_digest,
    select_tables,
    upstream_of,
)
from lakehouse.app.tables import TABLES, pseudonymised_tables
from lakehouse.core import fence
from lakehouse.core.catalog import attach_warehouse, table_location
from lakehouse.core.compaction import compact_small_files
from lakehouse.core.config import (
    CatalogKind,
    Config,
    require_landing,
    storage_errors,
)
from lakehouse.core.context import Batches, RunContext, RunOptions, TableJob, TableResult
from lakehouse.core.delta_log import table_version
from lakehouse.core.engine import brief, interrupt_engine
from lakehouse.core.glue import catalog_table, check_ownership, register_tables
from lakehouse.core.interrupt import Interrupted
from lakehouse.core.lock import warehouse_lock
from lakehouse.core.progress import Progress
from lakehouse.core.rules import RuleFailed, RuleOutcome
from lakehouse.core.run_log import record_end, record_start
from lakehouse.core.scratch import STAGING
from lakehouse.core.secrets import (
    check_pseudonym_salt,
    new_pseudonym_salt,
    with_pseudonym_salt,
)
from lakehouse.core.storage import join, remove_tree
from silver.job import JOBS as SILVER_JOBS

log = logging.getLogger(__name__)

LAYERS: dict[str, list[TableJob]] = {
    "bronze": BRONZE_JOBS,
    "silver": SILVER_JOBS,
    "gold": GOLD_JOBS,
}


def select_jobs(target: str | None = None) -> list[TableJob]:
    """The jobs a target names, in run order (see `plan.select_tables`)."""
    jobs = {job.table: job for layer in LAYERS.values() for job in layer}
    return [jobs[table] for table in select_tables(target)]


def run_pipeline(
    spark: SparkSession,
    config: Config,
    target: str | None = None,
    progress: Progress | None = None,
    *,
    full_refresh: str | None = None,
    test: bool = False,
    rule_outcomes: list[RuleOutcome] | None = None,
    rekey: bool = False,
) -> tuple[str, list[TableResult]]:
    """Run the selected jobs against the configured warehouse; return the run id and results.

    `full_refresh` names tables to rebuild (a target as in `select_jobs`); `test` also judges
    the table checks before each commit; what the rules found is appended to `rule_outcomes`;
    `rekey` draws a new pseudonym salt and rebuilds every silver and gold table with it.
    """
    require_landing(config, SOURCES)
    check_rekey(target, full_refresh, rekey=rekey)
    jobs = select_jobs(target)
    rebuilt = full_refresh_tables("all" if rekey else full_refresh)
    rules = quality_rules(config)
    options = RunOptions(frozenset(rebuilt), test, rules, QUARANTINE, rekey=rekey)
    with operation(spark, config, "run", target or "all", options) as (ctx, results):
        try:
            run_jobs(ctx, jobs, progress or Progress(len(jobs)), results)
        except RulesFailed as failed:
            failed.run_id = ctx.run_id
            raise
        finally:
            if rule_outcomes is not None:
                rule_outcomes.extend(ctx.rule_outcomes)
        above = config.maintenance.compact_above_files
        results.extend(compact_small_files(ctx, sorted(ctx.ensured), above))
    return ctx.run_id, results


@contextmanager
def operation(
    spark: SparkSession,
    config: Config,
    command: str,
    target: str,
    options: RunOptions | None = None,
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
    options = options or RunOptions(quarantine=QUARANTINE)
    keyed = pseudonymised_tables()
    # Before the lock: nothing is written when these fail (a lost salt, say).
    if config.catalog.kind == CatalogKind.glue:
        names = [table.qualified_name for table in TABLES]
        check_ownership(config.catalog, {name: table_location(warehouse, name) for name in names})
    check_pseudonym_salt(config, keyed, rekey=options.rekey)
    began = False  # whether the run log holds this run: from then on it has written
    try:
        with warehouse_lock(warehouse, run_id, run.lock_timeout_seconds, run.lease_seconds):
            # Scratch copies hold raw records; a killed run leaves its copies behind, and no
            # other writer can be using them while this one holds the warehouse.
            remove_tree(join(warehouse, STAGING))
            if options.rekey:
                config = new_pseudonym_salt(config)
                log.warning("re-keyed: a new pseudonym salt; every table keyed by it is rebuilt")
            else:
                config = with_pseudonym_salt(config, create=True, keyed=keyed)
            attached = attach_warehouse(spark, warehouse)
            batches = Batches.after(latest_batch(spark, warehouse))
            digest = rules_digest(config, options.rules)
            ctx = RunContext(
                spark, config, run_id, now, batches, digest, ensured=set(attached), options=options
            )
            began = True
            record_start(ctx, command, target)
            results: list[TableResult] = []
            try:
                yield ctx, results
                if config.catalog.kind == CatalogKind.glue:
                    publish_to_glue(ctx)
            except fence.LeaseLost:
                raise  # the warehouse is another run's now: not even the run log is written
            except Interrupted as interruption:
                interruption.command, interruption.run_id = command, run_id
                _wind_down(ctx, command, target, results, interruption)
                raise
            except Exception as error:
                _record_failure(ctx, command, target, results, error)
                raise
            finally:
                _remove_scratch(warehouse)  # the run's shared copies (`ctx.shared`)
            record_end(ctx, command, target, results)
    except storage_errors() as error:
        if not began:
            raise  # nothing written yet: the configuration error it is reported as
        raise RunFailed(
            f"{command} {run_id} failed: storage stopped answering after it began writing "
            f"({brief(error)}); what it committed stands, and running it again completes "
            "the work"
        ) from error


def _record_failure(
    ctx: RunContext, command: str, target: str, results: list[TableResult], error: Exception
) -> None:
    """Record the run as failed if the store lets us; the error that stopped it goes on."""
    try:
        record_end(ctx, command, target, results, error)
    except Exception as recording:
        # The same outage, most likely: the next run marks this one interrupted.
        log.warning("could not record run %s as failed: %s", ctx.run_id, brief(recording))


def _remove_scratch(warehouse: str) -> None:
    if fence.lost():
        return  # the scratch space is the new holder's now
    try:
        remove_tree(join(warehouse, STAGING))
    except storage_errors() as error:
        # The next run removes them first thing; the error that matters is the run's own.
        log.warning("could not remove the scratch copies: %s", brief(error))


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
    _remove_scratch(ctx.warehouse)


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
    """Run the jobs in order, appending each one's results as it finishes.

    A table stopped by a `fail` rule is not committed; the tables built from it are skipped,
    the others built (as `dbt build` does), and the run then fails with `RulesFailed`.
    """
    failures: list[RuleFailed] = []
    stopped: set[str] = set()

    def not_built(table: str, note: str) -> None:
        stopped.add(table)
        version = table_version(table_location(ctx.warehouse, table))
        results.append(TableResult(table, 0, 0, 0, 0, 0, version, version, (note,)))

    for job in jobs:
        blocked = ", ".join(sorted(upstream_of({job.table}) & stopped))
        if blocked:
            progress.skip(job.table, f"built from {blocked}")
            not_built(job.table, f"{job.table} skipped: built from {blocked}, stopped by its rules")
            continue
        try:
            with progress.step(job.table):
                results.extend(job.run(ctx))
        except RuleFailed as failure:
            failures.append(failure)
            not_built(job.table, f"{job.table} not committed: {failure}")
    if failures:
        raise RulesFailed(failures, results)

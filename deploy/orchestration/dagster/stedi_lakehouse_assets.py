"""Dagster assets: one per lakehouse table, grouped by layer (`lakehouse.app.pipeline.LAYERS`),
each depending on the tables its job reads (`TableJob.upstream`, the graph `lakehouse run`'s
selectors follow): silver on bronze, gold on silver, and within a layer on the tables it
joins (`silver.accelerometer_trusted` on `silver.customer_trusted` for consent).

Materialising an asset runs `lakehouse run <table>` in the step's process (the same command,
exit statuses and run log as the CLI), so the project is installed beside Dagster:
`pip install -c requirements.lock '.[sail,orchestration]'`. Status 3 (busy: another run holds
the warehouse) is retried by the assets' retry policy; any other failure (1 failed, 2
configuration error, 130/143 interrupted) fails the asset at once, because running it again
unchanged gives the same answer.

    dagster dev -f deploy/orchestration/dagster/stedi_lakehouse_assets.py

Paths and any other setting are Hydra overrides on the `lakehouse` resource (in the launchpad:
`resources: {lakehouse: {config: {overrides: [paths.warehouse=/data/wh, ...]}}}`), by default
from `LAKEHOUSE_OVERRIDES` (shell-quoted).
"""

# No `from __future__ import annotations`: Dagster reads the compute function's annotations
# (context type, resources) as classes when the asset is defined.

import os
import shlex
from collections.abc import Sequence

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    ConfigurableResource,
    Definitions,
    Failure,
    MaterializeResult,
    RetryPolicy,
    ScheduleDefinition,
    asset,
    define_asset_job,
    in_process_executor,
)

from lakehouse.app.cli import EXIT_BUSY, main
from lakehouse.app.pipeline import LAYERS
from lakehouse.core.catalog import table_location
from lakehouse.core.config import load_config
from lakehouse.core.delta_log import table_version

# The command itself waits run.lock_timeout_seconds (60 s by default) for the warehouse before
# answering busy; three more tries a minute apart then cover a run that overlaps by minutes.
BUSY_RETRY = RetryPolicy(max_retries=3, delay=60)


class WarehouseBusy(Exception):
    """Another run holds the warehouse: the only failure the retry policy acts on."""


class Lakehouse(ConfigurableResource):  # type: ignore[misc]
    """The lakehouse command, run in the step's process with these Hydra overrides."""

    # Hydra overrides for every command, e.g. paths.warehouse=/data/wh (none given:
    # LAKEHOUSE_OVERRIDES, read when the step runs, so a deployment sets it once).
    overrides: list[str] = []  # noqa: RUF012 (a pydantic field: copied per instance)

    def given(self) -> list[str]:
        return self.overrides or shlex.split(os.environ.get("LAKEHOUSE_OVERRIDES", ""))

    def run(self, target: str) -> int:
        """`lakehouse run <target> <overrides...>`; its exit status."""
        return main(["run", target, *self.given()])

    def location(self, table: str) -> str:
        return table_location(load_config(self.given()).paths.warehouse, table)


def table_asset(
    table: str, upstream: Sequence[str], retry_policy: RetryPolicy = BUSY_RETRY
) -> AssetsDefinition:
    """The asset of one table (`silver.customer_trusted` -> key silver/customer_trusted)."""
    layer, name = table.split(".")

    @asset(
        key=AssetKey([layer, name]),
        group_name=layer,
        deps=[AssetKey(up.split(".")) for up in upstream],
        retry_policy=retry_policy,
        kinds={"delta"},
        description=f"`lakehouse run {table}`",
    )
    def materialise(context: AssetExecutionContext, lakehouse: Lakehouse) -> MaterializeResult:
        status = lakehouse.run(table)
        if status == EXIT_BUSY:
            raise WarehouseBusy(f"lakehouse run {table}: another run holds the warehouse")
        if status != 0:
            raise Failure(
                description=f"lakehouse run {table} exited {status} (1 failed, 2 configuration "
                "error, 130/143 interrupted): not retried, see the step's log",
                allow_retries=False,
            )
        location = lakehouse.location(table)
        version = table_version(location)
        return MaterializeResult(metadata={"location": location, "version": version})

    return materialise


def layer_assets() -> list[AssetsDefinition]:
    """Every table's asset, after the tables its job reads."""
    return [table_asset(job.table, job.upstream) for jobs in LAYERS.values() for job in jobs]


ASSETS = layer_assets()
hourly = ScheduleDefinition(
    job=define_asset_job("stedi_lakehouse", selection=AssetSelection.all()),
    cron_schedule="0 * * * *",
)
defs = Definitions(
    assets=ASSETS,
    schedules=[hourly],
    resources={"lakehouse": Lakehouse()},
    # One step at a time, in one process: the warehouse takes one writer, so parallel steps
    # would only wait on its lock (and the in-process engine is started once per step anyway).
    executor=in_process_executor,
)

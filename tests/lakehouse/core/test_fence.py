"""Fencing on S3 with real processes: a run paused past its lease writes nothing more."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.tables import TABLES
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.delta_log import is_delta_table, table_version
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, STALL_ENV
from lakehouse.core.storage import upload_tree
from tests.helpers import lakehouse, s3_config

pytestmark = [pytest.mark.slow, pytest.mark.serial]

SAMPLE = GenerateOptions(customers=20, readings_per_customer=5, files=2, seed=29)


def versions(warehouse: str) -> dict[str, int | None]:
    return {
        table.qualified_name: table_version(location)
        for table in TABLES
        if is_delta_table(location := table.location(warehouse))
    }


def test_a_run_paused_past_its_lease_stops_before_writing_beside_the_next(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str, s3_spark: SparkSession, tmp_path: Path
):
    config = s3_config(moto_endpoint, bucket)
    given = [
        "storage=s3",
        f"storage.bucket={bucket}",
        f"storage.endpoint_url={moto_endpoint}",
        "run.lease_seconds=3",
    ]
    with prepared_environment(config):
        generate(tmp_path / "data", SAMPLE)
        upload_tree(tmp_path / "data", config.paths.landing)

    # The first run is frozen (SIGSTOP) just before its first silver commit.
    paused = lakehouse(
        "run",
        *given,
        **{FAULT_ENV: "before:silver.customer_trusted", ACTION_ENV: "stall", STALL_ENV: "3"},
    )
    paused.wait_for("fault: stalling at before:silver.customer_trusted", 240)
    os.kill(paused.process.pid, signal.SIGSTOP)
    try:
        # Its lease expires; the next run takes it over and brings every table up to date.
        other = lakehouse("run", *given)
        code, stderr = other.finish(timeout=300), other.stderr
        assert code == 0, stderr
        with prepared_environment(config):
            done = versions(config.paths.warehouse)
    finally:
        os.kill(paused.process.pid, signal.SIGCONT)

    code, stderr = paused.finish(timeout=300), paused.stderr
    assert code == 1, stderr
    assert "lost the warehouse lease" in stderr and "Traceback" not in stderr
    with prepared_environment(config):
        assert versions(config.paths.warehouse) == done  # not one commit after it resumed
    attach_warehouse(s3_spark, config.paths.warehouse)
    for table in TABLES:
        if table.schema in ("silver", "gold") and table.qualified_name in done:
            rows = s3_spark.table(table.qualified_name)
            assert rows.count() == rows.select(*table.keys).distinct().count(), table

"""A store that stops answering after a run began writing: a failure (exit 1), never the
"nothing was written" configuration error (exit 2); the run is recorded and the lease freed."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, STALL_ENV
from lakehouse.core.lock import LOCK_FILE
from lakehouse.core.storage import upload_tree
from tests.helpers import CuttableProxy, lakehouse, s3_config

pytestmark = [pytest.mark.slow, pytest.mark.serial]

SAMPLE = GenerateOptions(customers=10, readings_per_customer=4, files=1, seed=2)


def test_glue_lost_before_the_publish_step_fails_the_run_not_the_configuration(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str, s3_spark: SparkSession, tmp_path: Path
):
    glue = CuttableProxy(moto_endpoint)  # Glue through a link the test cuts; S3 stays up
    config = s3_config(moto_endpoint, bucket)
    with prepared_environment(config):
        generate(tmp_path / "data", SAMPLE)
        upload_tree(tmp_path / "data", config.paths.landing)
    run = lakehouse(
        "run",
        "storage=s3",
        f"storage.bucket={bucket}",
        f"storage.endpoint_url={moto_endpoint}",
        "catalog=glue",
        f"catalog.endpoint_url={glue.endpoint}",
        **{
            FAULT_ENV: "before:gold.machine_learning_curated",
            ACTION_ENV: "stall",
            STALL_ENV: "1",
            "AWS_MAX_ATTEMPTS": "2",
        },
    )
    try:
        run.wait_for("fault: stalling at before:gold.machine_learning_curated", 240)
        glue.cut()
        code, stderr = run.finish(timeout=300), run.stderr
    finally:
        glue.cut()

    assert code == 1, stderr
    assert "storage stopped answering after it began writing" in stderr, stderr
    assert "configuration error" not in stderr and "Traceback" not in stderr
    # Recorded as failed, and the warehouse free again at once.
    with prepared_environment(config):
        attach_warehouse(s3_spark, config.paths.warehouse)
        statuses = s3_spark.table("ops.runs").select("status").collect()
        assert [row[0] for row in statuses] == ["failed"]
        assert s3_spark.table("gold.machine_learning_curated").count() > 0  # it wrote
    listed = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [item["Key"] for item in listed.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [key for key in keys if key.endswith(LOCK_FILE)]

"""The Spark engine's configuration (its Delta jars cannot be downloaded here, so not started),
the embedded engine, and the log operations each engine uses."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import load_config
from lakehouse.core.delta_log import DeltalakeLog, SparkSqlLog, table_log
from lakehouse.core.engine import (
    GLUE_CLIENT_FACTORY,
    hadoop_version,
    open_session,
    sail_environment,
    spark_builder,
    spark_session,
)


def test_spark_builder_is_configured_for_delta() -> None:
    options = spark_builder(load_config(["engine=spark"]))._options
    assert options["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert options["spark.sql.catalog.spark_catalog"] == (
        "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert options["spark.jars.packages"].startswith("io.delta:delta-spark_")
    assert options["spark.jars.packages"].endswith(":4.4.1")
    assert options["spark.master"] == "local[*]"
    assert options["spark.sql.session.timeZone"] == "UTC"
    assert not any(key.startswith("spark.hadoop.fs.s3") for key in options)


def test_extra_spark_properties_pass_through_and_win() -> None:
    config = load_config(
        [
            "engine=spark",
            "engine.master=yarn",
            "+engine.conf={spark.executor.memory: 4g, spark.sql.session.timeZone: Europe/Oslo}",
        ]
    )
    options = spark_builder(config)._options
    assert options["spark.master"] == "yarn"
    assert options["spark.executor.memory"] == "4g"
    assert options["spark.sql.session.timeZone"] == "Europe/Oslo"


def test_s3_on_open_source_spark_adds_the_s3a_connector_matching_spark_hadoop() -> None:
    config = load_config(
        [
            "engine=spark",
            "storage=s3",
            "storage.bucket=stedi",
            "storage.region=eu-west-1",
            "storage.endpoint_url=http://127.0.0.1:9000",
        ]
    )
    options = spark_builder(config)._options
    packages = options["spark.jars.packages"].split(",")
    assert f"org.apache.hadoop:hadoop-aws:{hadoop_version()}" in packages
    assert hadoop_version().startswith("3.")
    assert options["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert options["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert options["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert options["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert options["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    # Credentials are never configuration: the AWS default chain provides them.
    assert "DefaultCredentialsProvider" in options["spark.hadoop.fs.s3a.aws.credentials.provider"]
    assert not any("secret" in key.lower() or "access.key" in key for key in options)


def test_emr_reads_s3_natively_and_uses_glue_as_the_hive_catalog() -> None:
    config = load_config(
        [
            "engine=spark",
            "engine.s3_connector=native",
            "storage=s3",
            "storage.bucket=stedi",
            "catalog=glue",
            "catalog.engine_catalog=true",
        ]
    )
    options = spark_builder(config)._options
    assert "hadoop-aws" not in options["spark.jars.packages"]
    assert not any(key.startswith("spark.hadoop.fs.s3") for key in options)
    assert options["spark.hadoop.hive.metastore.client.factory.class"] == GLUE_CLIENT_FACTORY
    assert options["spark.sql.catalogImplementation"] == "hive"


def test_offline_clusters_use_the_listed_jars_instead_of_maven() -> None:
    jars = ["/opt/jars/delta-spark_2.13-4.4.1.jar", "/opt/jars/delta-storage-4.4.1.jar"]
    config = load_config(["engine=spark", f"engine.jars=[{','.join(jars)}]"])
    options = spark_builder(config)._options
    assert options["spark.jars"] == ",".join(jars)
    assert "spark.jars.packages" not in options


def test_embedded_session_speaks_spark_sql(spark: SparkSession) -> None:
    assert spark.sql("SELECT 1 + 1 AS two").first()[0] == 2  # type: ignore[index]


@pytest.mark.slow  # 300 forks of a large process
def test_child_processes_start_while_the_embedded_engine_is_busy(spark: SparkSession) -> None:
    # A fork with gRPC's fork handlers on killed about 2% of such children before they ran
    # their program (PySpark's JVM launch among them: `preexec_fn` forks); see `open_session`.
    busy = threading.Event()

    def queries() -> None:
        while not busy.is_set():
            spark.range(100).count()

    worker = threading.Thread(target=queries)
    worker.start()
    try:
        statuses = Counter(
            subprocess.Popen(["true"], stdin=subprocess.PIPE, preexec_fn=os.getpid).wait()
            for _ in range(300)
        )
    finally:
        busy.set()
        worker.join()
    assert statuses == {0: 300}, f"children's exit statuses: {dict(statuses)}"


def test_an_existing_session_is_used_as_it_is(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lakehouse.core import engine as engine_module

    running = object()
    monkeypatch.setattr(engine_module.SparkSession, "getActiveSession", lambda: running)
    assert spark_session(load_config(["engine=spark"])) is running


class RecordingSpark:
    """Stands in for a Spark session: records SQL, answers DESCRIBE HISTORY."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.conf = self
        self.settings: dict[str, str] = {}

    def set(self, key: str, value: str) -> None:
        self.settings[key] = value

    def sql(self, statement: str) -> Any:
        self.statements.append(statement)
        return self

    def collect(self) -> list[dict[str, Any]]:
        at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        return [
            {
                "version": 1,
                "timestamp": at,
                "operation": "MERGE",
                "operationMetrics": {"numTargetRowsInserted": "3"},
            }
        ]


def test_each_engine_gets_its_log_operations() -> None:
    assert isinstance(table_log(None, "sail"), DeltalakeLog)  # type: ignore[arg-type]
    assert isinstance(table_log(RecordingSpark(), "spark"), SparkSqlLog)  # type: ignore[arg-type]


def test_spark_log_operations_are_delta_sql_on_the_table_path() -> None:
    spark = RecordingSpark()
    log = SparkSqlLog(spark)  # type: ignore[arg-type]
    history = log.history("s3://b/wh/silver/t")
    log.restore("s3://b/wh/silver/t", 3)
    assert log.vacuum("s3://b/wh/silver/t", 0) is None
    log.compact("s3://b/wh/silver/t")
    assert spark.statements == [
        "DESCRIBE HISTORY delta.`s3://b/wh/silver/t`",
        "RESTORE TABLE delta.`s3://b/wh/silver/t` TO VERSION AS OF 3",
        "VACUUM delta.`s3://b/wh/silver/t` RETAIN 0 HOURS",
        "OPTIMIZE delta.`s3://b/wh/silver/t`",
    ]
    assert spark.settings == {"spark.databricks.delta.retentionDurationCheck.enabled": "false"}
    assert history == [
        {
            "version": 1,
            "timestamp": 1795435200000,
            "operation": "MERGE",
            "operationMetrics": {"numTargetRowsInserted": "3"},
        }
    ]


def test_sail_options_become_its_environment_variables() -> None:
    assert sail_environment(load_config().engine) == {}
    config = load_config(
        [
            "engine.memory_limit_mb=1024",
            "+engine.sail.optimizer.enable_join_reorder=true",
            "+engine.sail.execution.batch_size=4096",
        ]
    )
    assert sail_environment(config.engine) == {
        "SAIL_RUNTIME__MEMORY_POOL__TYPE": "fair",
        "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE": str(1024 * 1024 * 1024),
        "SAIL_OPTIMIZER__PREFER_HASH_JOIN": "false",
        "SAIL_OPTIMIZER__ENABLE_JOIN_REORDER": "true",
        "SAIL_EXECUTION__BATCH_SIZE": "4096",
    }
    assert sail_environment(load_config(["engine=spark"]).engine) == {}


@pytest.mark.slow
def test_a_memory_limited_engine_builds_every_layer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Under a limit joins become sort-merge joins and spill; the build must still succeed,
    with the same rows as without a limit."""
    landing = tmp_path / "landing"
    generate(landing, GenerateOptions(customers=60, readings_per_customer=20, files=2))
    counts = {}
    for limit in (0, 256):
        config = load_config(
            [
                f"paths.landing={landing}",
                f"paths.warehouse={tmp_path / f'warehouse-{limit}'}",
                f"engine.memory_limit_mb={limit}",
            ]
        )
        with open_session(config) as spark:
            run_pipeline(spark, config)
            counts[limit] = {
                name: spark.table(name).count()
                for name in ("silver.step_trainer_trusted", "gold.machine_learning_curated")
            }
    assert counts[256] == counts[0] and counts[0]["gold.machine_learning_curated"] > 0

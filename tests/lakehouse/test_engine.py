"""The Spark engine's configuration (its Delta jars cannot be downloaded here, so not started)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.config import EngineConfig, load_config
from lakehouse.engine import spark_builder


def test_spark_builder_is_configured_for_delta() -> None:
    engine = load_config(["engine=spark"]).engine
    options = spark_builder(engine)._options
    assert options["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert options["spark.sql.catalog.spark_catalog"] == (
        "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert options["spark.jars.packages"].startswith("io.delta:delta-spark_")
    assert options["spark.jars.packages"].endswith(":4.4.1")
    assert options["spark.master"] == "local[*]"
    assert options["spark.sql.session.timeZone"] == "UTC"


def test_extra_spark_properties_pass_through() -> None:
    engine = EngineConfig(name="spark", master="yarn", conf={"spark.executor.memory": "4g"})
    options = spark_builder(engine)._options
    assert options["spark.master"] == "yarn"
    assert options["spark.executor.memory"] == "4g"


def test_embedded_session_speaks_spark_sql(spark: SparkSession) -> None:
    assert spark.sql("SELECT 1 + 1 AS two").first()[0] == 2  # type: ignore[index]


def test_an_existing_session_is_used_as_it_is(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lakehouse import engine as engine_module

    running = object()
    monkeypatch.setattr(engine_module.SparkSession, "getActiveSession", lambda: running)
    assert engine_module.spark_session(EngineConfig(name="spark")) is running

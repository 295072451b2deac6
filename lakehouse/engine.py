"""The engine session: embedded Sail (default) or Apache Spark + delta-spark.

Only the entry point opens a session; jobs receive it. Nothing here runs at import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.config import EngineConfig

# Readings are epoch milliseconds; show derived timestamps in UTC on every machine.
SESSION_CONF = {"spark.sql.session.timeZone": "UTC"}

DELTA_SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class EngineError(RuntimeError):
    """The engine could not be started."""


@contextmanager
def open_session(engine: EngineConfig) -> Iterator[SparkSession]:
    """Yield a ready session for `engine`, and shut down what this call started."""
    if engine.name == "sail":
        with _sail_session() as spark:
            yield spark
    elif engine.name == "spark":
        yield spark_session(engine)
    else:
        raise EngineError(f"unknown engine {engine.name!r}")


@contextmanager
def _sail_session() -> Iterator[SparkSession]:
    try:
        from pysail.spark import SparkConnectServer
    except ImportError as error:  # pragma: no cover - pysail is a hard dependency
        raise EngineError("engine=sail needs the pysail package: pip install pysail") from error

    # Sail logs through Rust's env_logger; keep its info lines out of the CLI's output.
    os.environ.setdefault("RUST_LOG", "error")
    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    _, port = server.listening_address
    # create(), not getOrCreate(): another open session (a notebook, a test) must not be reused.
    spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()
    try:
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
        yield spark
    finally:
        # The client must stop first: stopping the server under a live client hangs exit.
        spark.stop()
        server.stop()


def spark_session(engine: EngineConfig) -> SparkSession:
    """The running session on Databricks; otherwise a new one configured for Delta."""
    active = SparkSession.getActiveSession()
    if active is not None or "DATABRICKS_RUNTIME_VERSION" in os.environ:
        return active or SparkSession.builder.getOrCreate()
    return spark_builder(engine).getOrCreate()


def spark_builder(engine: EngineConfig) -> Any:
    """A classic Spark builder with Delta's extension, catalog and jars (not started)."""
    from delta import configure_spark_with_delta_pip

    builder = SparkSession.builder.appName(engine.app_name).master(engine.master)
    for key, value in {**SESSION_CONF, **DELTA_SPARK_CONF, **engine.conf}.items():
        builder = builder.config(key, value)
    # Adds the delta-spark jar coordinates matching the installed delta-spark package.
    return configure_spark_with_delta_pip(builder)

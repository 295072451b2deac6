"""The engine session: embedded Sail (default) or Apache Spark + delta-spark.

Only the entry point opens a session; jobs receive it. Nothing here runs at import.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.core.aws import prepared_environment
from lakehouse.core.config import (
    CONNECT_TOKEN_ENV,
    CatalogKind,
    Config,
    EngineConfig,
    EngineName,
    S3Connector,
    StorageKind,
)
from lakehouse.core.errors import EngineError
from lakehouse.core.interrupt import reclaim_signal_handlers, was_interrupted

log = logging.getLogger(__name__)

# Readings are epoch milliseconds; show derived timestamps in UTC on every machine.
SESSION_CONF = {"spark.sql.session.timeZone": "UTC"}

DELTA_SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


GLUE_CLIENT_FACTORY = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"

# The Connect client retries an unreachable server for over 10 minutes by default, which suits
# a remote cluster. The embedded server runs in this process: unreachable means stopped, so a
# few quick retries (about 1 s in all) are enough, and a stopped engine cannot hang a command.
EMBEDDED_RETRIES, EMBEDDED_MAX_BACKOFF_MS = 3, 1000
# A remote server gets about a minute to come back (a restart, a failover), not ten.
REMOTE_MAX_BACKOFF_MS = 5000
# After Ctrl-C or SIGTERM, how long closing the client may take before the server stops anyway.
CLIENT_STOP_SECONDS = 2.0


@contextmanager
def open_session(config: Config) -> Iterator[SparkSession]:
    """Yield a ready session for `config.engine`, and shut down what this call started.

    S3 and Glue settings reach the engine (and boto3 / deltalake) through the environment,
    which is prepared before the engine starts and restored when the session ends.
    """
    with prepared_environment(config, sail_environment(config.engine)):
        if config.engine.name in (EngineName.sail, EngineName.connect):
            # gRPC's fork handlers (grpcio 1.80 and later, grpc/grpc#43055) kill some child
            # processes forked while the Connect client is busy, before they run their program:
            # 4-6 of 300 `Popen(..., preexec_fn=...)` here, the way PySpark launches its JVM.
            # Nothing here uses gRPC in a forked child, so the handlers are turned off before
            # the first channel reads the setting.
            os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        if config.engine.name == EngineName.sail:
            with _sail_session() as spark:
                yield spark
        elif config.engine.name == EngineName.connect:
            with _connect_session(config.engine) as spark:
                yield spark
        elif config.engine.name == EngineName.spark:
            spark = spark_session(config)
            # PySpark's SparkContext installs its own SIGINT handler (KeyboardInterrupt).
            reclaim_signal_handlers()
            yield spark
        else:
            raise EngineError(f"unknown engine {config.engine.name!r}")


def sail_environment(engine: EngineConfig) -> dict[str, str]:
    """The SAIL_* variables for `engine.memory_limit_mb` and the `engine.sail` options."""
    if engine.name != EngineName.sail:
        return {}
    options: dict[str, Any] = {}
    if engine.memory_limit_mb:
        options["runtime.memory_pool.type"] = "fair"
        options["runtime.memory_pool.fair.max_size"] = engine.memory_limit_mb * 1024 * 1024
        # Hash joins cannot spill: under a limit they would fail instead of slowing down.
        options["optimizer.prefer_hash_join"] = False
    options.update(_flattened(engine.sail))
    return {
        "SAIL_" + key.upper().replace(".", "__"): str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for key, value in options.items()
    }


def _flattened(options: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Mapping):
            flat.update(_flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@contextmanager
def _sail_session() -> Iterator[SparkSession]:
    try:
        from pysail.spark import SparkConnectServer
        from pyspark.sql.connect.client.retries import DefaultPolicy
    except ImportError as error:  # pragma: no cover - pysail is a hard dependency
        raise EngineError(
            "engine=sail needs the pysail package: pip install 'stedi-lakehouse[sail]'"
        ) from error

    # Sail logs through Rust's env_logger; keep its info lines out of the CLI's output.
    os.environ.setdefault("RUST_LOG", "error")
    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    _, port = server.listening_address
    try:
        # create(), not getOrCreate(): another open session (a notebook, a test) must not be reused.
        spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()
    except BaseException:
        server.stop()
        raise
    try:
        retries = DefaultPolicy(max_retries=EMBEDDED_RETRIES, max_backoff=EMBEDDED_MAX_BACKOFF_MS)
        spark.client.set_retry_policies([retries])
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
        # The server has answered, so its own SIGINT handler is installed by now: take SIGINT
        # back, or Ctrl-C would stop the server under the running command (see interrupt.py).
        reclaim_signal_handlers()
        yield spark
    except BaseException:
        # Whatever stops the command (an error, Ctrl-C) leaves no query running on the engine.
        interrupt_engine(spark)
        raise
    finally:
        # The client must stop first: stopping the server under a live client hangs exit.
        if was_interrupted():
            # Its release calls for cancelled queries can wait out their retries: bounded.
            _stop_within(spark, CLIENT_STOP_SECONDS)
        else:
            spark.stop()
        server.stop()


@contextmanager
def _connect_session(engine: EngineConfig) -> Iterator[SparkSession]:
    """A session on the Spark Connect server at `engine.remote` (started by someone else)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    token = os.environ.get(CONNECT_TOKEN_ENV)
    url = engine.remote + (f";token={token}" if token else "")
    try:
        spark = SparkSession.builder.remote(url).appName(engine.app_name).create()
        spark.client.set_retry_policies([DefaultPolicy(max_backoff=REMOTE_MAX_BACKOFF_MS)])
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
    except Exception as error:
        # The URL is not shown: it may carry the token by now.
        raise EngineError(
            f"cannot reach the Spark Connect server at {engine.remote}: {brief(error)}"
        ) from error
    try:
        yield spark
    except BaseException:
        interrupt_engine(spark)
        raise
    finally:
        _stop_within(spark, CLIENT_STOP_SECONDS)


def _stop_within(spark: SparkSession, seconds: float) -> None:
    stopping = threading.Thread(target=spark.stop, name="stop-client", daemon=True)
    stopping.start()
    stopping.join(seconds)


def interrupt_engine(spark: SparkSession) -> bool:
    """Cancel every query this session still runs on the engine; False if it did not answer.

    Best effort: it never raises.
    """
    try:
        cancelled = spark.interruptAll()
    except Exception as error:
        log.warning("could not cancel the engine's running queries: %s", brief(error))
        return False
    if cancelled:
        log.info("cancelled %d running engine operation(s)", len(cancelled))
    return True


def brief(error: BaseException) -> str:
    """One line for a log (a gRPC error's text spans lines: keep its details)."""
    text = str(error)
    details = re.search(r'details = "([^"]*)"', text)
    line = details.group(1) if details else (text.strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {line}"


def spark_session(config: Config) -> SparkSession:
    """The running session on Databricks or under spark-submit; otherwise a new one for Delta."""
    active = SparkSession.getActiveSession()
    if active is not None or "DATABRICKS_RUNTIME_VERSION" in os.environ:
        return active or SparkSession.builder.getOrCreate()
    return spark_builder(config).getOrCreate()


def spark_builder(config: Config) -> Any:
    """A classic Spark builder with Delta, S3 and catalog settings and jars (not started)."""
    engine = config.engine
    builder = SparkSession.builder.appName(engine.app_name).master(engine.master)
    for key, value in spark_properties(config).items():
        builder = builder.config(key, value)
    if engine.jars:
        return builder
    # Maven coordinates matching the installed delta-spark (and Spark's Hadoop for S3).
    from delta import configure_spark_with_delta_pip

    extra = [f"org.apache.hadoop:hadoop-aws:{hadoop_version()}"] if _uses_s3a(config) else []
    return configure_spark_with_delta_pip(builder, extra_packages=extra)


def spark_properties(config: Config) -> dict[str, str]:
    """Every Spark property the cluster engine is started with; `engine.conf` has the last say."""
    engine, storage = config.engine, config.storage
    properties = {**SESSION_CONF, **DELTA_SPARK_CONF}
    if engine.jars:
        # Offline clusters: the jars are already on disk (or in the cluster's object store).
        properties["spark.jars"] = ",".join(engine.jars)
    if _uses_s3a(config):
        # Open-source Spark reads s3:// through Hadoop's S3A connector, with the AWS chain.
        properties["spark.hadoop.fs.s3.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"
        properties["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"
        )
        if storage.region:
            properties["spark.hadoop.fs.s3a.endpoint.region"] = storage.region
        if storage.endpoint_url:
            properties["spark.hadoop.fs.s3a.endpoint"] = storage.endpoint_url
            properties["spark.hadoop.fs.s3a.path.style.access"] = "true"
            ssl = str(storage.endpoint_url.startswith("https://")).lower()
            properties["spark.hadoop.fs.s3a.connection.ssl.enabled"] = ssl
    if config.catalog.kind == CatalogKind.glue and config.catalog.engine_catalog:
        # EMR and Glue jobs ship this client: the session's Hive catalog is then Glue.
        properties["spark.sql.catalogImplementation"] = "hive"
        properties["spark.hadoop.hive.metastore.client.factory.class"] = GLUE_CLIENT_FACTORY
    return {**properties, **engine.conf}


def hadoop_version() -> str:
    """The Hadoop version bundled with the installed pyspark (hadoop-aws must match it)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    for jar in jars.glob("hadoop-client-api-*.jar"):
        return jar.stem.removeprefix("hadoop-client-api-")
    raise EngineError(f"no hadoop-client-api jar in {jars}: is pyspark installed completely?")


def _uses_s3a(config: Config) -> bool:
    # EMR's own s3:// file system (EMRFS) needs no connector; elsewhere S3A provides it.
    return config.storage.kind == StorageKind.s3 and config.engine.s3_connector == S3Connector.s3a

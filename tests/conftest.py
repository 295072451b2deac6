"""The fixtures: one embedded-engine session for the whole test run, configurations, moto.

Plain helpers shared by test modules live in `tests/helpers.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession

from lakehouse.core.config import Config, load_config
from lakehouse.core.engine import DELTA_SPARK_CONF, open_session, spark_properties
from tests.helpers import on_classic_spark, s3_config

# One known salt for every test, in process and in subprocesses, so tests can compute the
# expected pseudonyms; `test_secrets` covers the default (`auto`, a per-warehouse secret).
os.environ.setdefault("LAKEHOUSE_PSEUDONYM_SALT", "tests-only-salt")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    with open_session(load_config()) as session:
        yield session


# Test-only properties of the classic session: no web UI or progress bar, and few shuffle
# partitions for tiny frames (none changes a result).
CLASSIC_TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
}


@pytest.fixture(scope="session")
def classic_spark() -> Iterator[SparkSession]:
    """Apache Spark on the JVM (local[1], pyspark's own jars), started once and only for the
    tests that ask for it, with the properties `engine=spark` builds minus Delta's (its jars
    come from Maven, which this machine cannot reach). Use it inside `on_classic_spark()`."""
    properties = spark_properties(load_config(["engine=spark"]))
    without_delta = {
        key: value
        for key, value in properties.items()
        if key not in DELTA_SPARK_CONF and not key.startswith("spark.jars")
    }
    with on_classic_spark():
        builder = SparkSession.builder.master("local[1]").appName("parity")
        for key, value in {**without_delta, **CLASSIC_TEST_CONF}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        with on_classic_spark():
            session.stop()


@pytest.fixture
def make_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Compose the real configuration with a landing zone and warehouse under tmp_path."""

    def make(*overrides: str) -> Config:
        return load_config(
            [
                f"paths.landing={tmp_path / 'landing'}",
                f"paths.warehouse={tmp_path / 'warehouse'}",
                *overrides,
            ]
        )

    return make


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(
    server: subprocess.Popen[bytes], port: int, seconds: float, what: str
) -> None:
    """Return once `server` accepts connections on `port`; kill it and fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A local S3 + Glue API (moto in server mode, its own process) with test credentials."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_listening(server, port, 30, "moto server")
    with pytest.MonkeyPatch.context() as env:
        # Test credentials through the standard chain's first link, never through config.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A new, empty bucket on the moto server."""
    name = f"stedi-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def s3_spark(moto_endpoint: str) -> Iterator[SparkSession]:
    """An embedded engine started with the S3 settings (it reads them only at start)."""
    with open_session(s3_config(moto_endpoint, "unused")) as session:
        yield session


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (in their order): `make test` hands out whole modules in this order, so
    the long ones start early and the workers end together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def cluster_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Sail Spark Connect server in its own process, in `local-cluster` mode (a driver and
    workers that exchange data as on a cluster), on loopback: its sc:// URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("sail-cluster") / "server.log"
    env = {**os.environ, "SAIL_MODE": "local-cluster", "RUST_LOG": "error"}
    sail = Path(sys.executable).with_name("sail")
    with open(log, "w") as output:
        server = subprocess.Popen(
            [str(sail), "spark", "server", "--ip", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_until_listening(server, port, 60, f"sail server (log: {log})")
    try:
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def cluster_spark(cluster_remote: str) -> Iterator[SparkSession]:
    """A session on the local-cluster server, opened as `engine=connect` opens one."""
    with open_session(load_config(["engine=connect", f"engine.remote={cluster_remote}"])) as s:
        yield s

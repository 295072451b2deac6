"""Helpers shared by more than one test module; the fixtures live in `conftest.py`.

Test modules import helpers from here, never from each other.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, QueryBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from lakehouse.app.pipeline import LAYERS, run_pipeline
from lakehouse.core.catalog import TableSpec, table_location
from lakehouse.core.config import Config, load_config
from lakehouse.core.delta_log import table_version
from silver.transforms import trusted_accelerometer, trusted_customers, trusted_step_trainer

# --- The repository and configuration ---------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder (the cwd and PYTHONPATH of the processes tests start)."""


def s3_config(endpoint: str, bucket: str, *overrides: str) -> Config:
    """The real configuration with storage=s3 on the moto server."""
    return load_config(
        ["storage=s3", f"storage.bucket={bucket}", f"storage.endpoint_url={endpoint}", *overrides]
    )


def overrides(config) -> list[str]:  # type: ignore[no-untyped-def]
    """The CLI overrides that point a command at `config`'s landing zone and warehouse."""
    return [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]


# --- Reading tables ---------------------------------------------------------------------------

ALL_TABLES = (
    "bronze.customer_landing",
    "bronze.accelerometer_landing",
    "bronze.step_trainer_landing",
    "bronze.quarantine",
    "silver.customer_trusted",
    "silver.accelerometer_trusted",
    "silver.step_trainer_trusted",
    "gold.customer_curated",
    "gold.machine_learning_curated",
)
"""Every data table of the pipeline, bronze to gold (the ops tables aside)."""

RUN_LINEAGE = {
    "_batch",
    "_ingestion_run_id",
    "_ingested_at",
    "batch",
    "ingestion_run_id",
    "ingested_at",
}
"""The lineage columns that differ between any two runs (run ids, times, batch numbers)."""


def rows(df: DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    """The frame's rows as sorted tuples (order-insensitive comparison)."""
    selected = df.select(*columns) if columns else df
    return sorted(tuple(row) for row in selected.collect())


# --- Two engines in one process ---------------------------------------------------------------

CONNECT_MODE = "SPARK_CONNECT_MODE_ENABLED"


@contextmanager
def on_classic_spark() -> Iterator[None]:
    """Build and run classic Spark frames here.

    PySpark makes Connect columns (for the embedded engine) while this variable is set, which
    the embedded engine's session does, and classic ones otherwise; every `F.col` is made for
    one kind of session.
    """
    saved = os.environ.pop(CONNECT_MODE, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[CONNECT_MODE] = saved


def frame(df: DataFrame) -> tuple[list[tuple[str, str]], list[str]]:
    """A frame as comparable values: its columns and types, and its rows sorted (each as its
    repr, so NULLs sort and NaN equals NaN)."""
    return df.dtypes, sorted(repr(tuple(row)) for row in df.collect())


def on_both(
    spark: SparkSession, classic: SparkSession, build: Callable[[SparkSession], DataFrame]
) -> tuple[list[tuple[str, str]], list[str]]:
    """`build`'s frame on the embedded engine and on classic Spark: asserts they are the same
    (columns, types and rows) and returns it."""
    embedded = frame(build(spark))
    with on_classic_spark():
        jvm = frame(build(classic))
    assert embedded[0] == jvm[0], "the engines give different columns or types"
    missing, extra = sorted(set(embedded[1]) - set(jvm[1])), sorted(set(jvm[1]) - set(embedded[1]))
    assert embedded[1] == jvm[1], f"only on the embedded engine: {missing}; only on Spark: {extra}"
    return embedded


def versions(config: Config) -> dict[str, int | None]:
    """Each data table's current Delta version in `config`'s warehouse (None: no table)."""
    warehouse = config.paths.warehouse
    return {name: table_version(f"{warehouse}/{name.replace('.', '/')}") for name in ALL_TABLES}


def snapshot(spark: SparkSession, landing: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows (without per-run lineage), file paths relative to `landing`."""
    prefix = str(landing)
    tables = {}
    for name in ALL_TABLES:
        frame = spark.table(name)
        columns = [c for c in frame.columns if c not in RUN_LINEAGE]
        tables[name] = sorted(
            tuple(v.removeprefix(prefix) if isinstance(v, str) else v for v in row)
            for row in frame.select(*columns).collect()
        )
    return tables


# --- Delivering files and running -------------------------------------------------------------


def deliver(landing: Path, files: list[Path]) -> None:
    """Copy generated `files` (`<source>/<name>`) into their source folders in `landing`."""
    for file in files:
        target = landing / file.parent.name / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)


def full_run(spark: SparkSession, make_config, data: Path) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[no-untyped-def]
    """One run over all the files in `data`, in a landing and warehouse of its own: its snapshot."""
    config: Config = make_config(
        f"paths.landing={data.parent / 'full-landing'}",
        f"paths.warehouse={data.parent / 'full-warehouse'}",
    )
    landing = Path(config.paths.landing)
    deliver(landing, sorted(data.glob("*/*.json")))
    run_pipeline(spark, config)
    return snapshot(spark, landing)


# --- Hand-written records: customers A and B on the shared serial S ---------------------------


def customer(email: str, updated: int, consent: int | None) -> dict[str, Any]:
    """A customer record on serial S, named after the email's local part (consent: optional)."""
    record: dict[str, Any] = {
        "customerName": email.split("@")[0].upper(),
        "email": email,
        "phone": "8015551212",
        "birthDay": "1990-01-01",
        "serialNumber": "S",
        "registrationDate": 1,
        "lastUpdateDate": updated,
    }
    if consent is not None:
        record["shareWithResearchAsOfDate"] = consent
    return record


def reading(user: str, at: int) -> dict[str, Any]:
    """An accelerometer reading of `user`'s phone at `at`."""
    return {"user": user, "timestamp": at, "x": at / 1000, "y": 1.0, "z": -1.0}


def step(at: int) -> dict[str, Any]:
    """A step trainer reading of serial S at `at`."""
    return {"sensorReadingTime": at, "serialNumber": "S", "distanceFromObject": at // 100}


def land(config: Config, source: str, name: str, *records: dict[str, Any]) -> None:
    """Write `records` as the JSON-lines file `name` in the landing zone's `source` folder."""
    folder = Path(config.paths.landing, source)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def land_a_and_b(config: Config) -> None:
    """Land A (consents at 1000) and B (never), their phones' and serial S's readings."""
    land(config, "customer", "c1.json", customer("a@x", 100, 1000), customer("b@x", 100, None))
    readings = [reading("a@x", t) for t in (500, 1500, 2500)]
    land(config, "accelerometer", "a1.json", *readings, reading("b@x", 1600), reading("b@x", 2600))
    land(config, "step_trainer", "s1.json", *[step(t) for t in (500, 1500, 1600, 2500, 2600)])


def withdraw_a(config: Config) -> None:
    """Land A's withdrawal of consent."""
    land(config, "customer", "c2.json", customer("a@x", 200, None))


def run_then_withdraw_a(spark: SparkSession, config: Config) -> None:
    """Land A and B, run, land A's withdrawal, run again."""
    land_a_and_b(config)
    run_pipeline(spark, config)
    withdraw_a(config)
    run_pipeline(spark, config)


def held(spark: SparkSession) -> dict[str, list[tuple[Any, ...]]]:
    """Who is in each silver and gold table, and at which moments."""
    keys = {r["customer_key"]: r["email"] for r in spark.table("silver.customer_trusted").collect()}
    ml = spark.table("gold.machine_learning_curated")
    return {
        "customers": rows(spark.table("silver.customer_trusted"), "email"),
        "accelerometer": rows(spark.table("silver.accelerometer_trusted"), "user", "timestamp"),
        "steps": rows(spark.table("silver.step_trainer_trusted"), "sensorReadingTime"),
        "curated": rows(spark.table("gold.customer_curated"), "email"),
        "ml": sorted((keys.get(k, k), t) for k, t in rows(ml, "customer_key", "sensorReadingTime")),
    }


# --- Erasure ----------------------------------------------------------------------------------


def traces_of(warehouse: Path, needles: list[str]) -> list[str]:
    """Files under `warehouse` naming any needle (any case), in raw bytes or Parquet values."""
    # Every file counts: data, log, checkpoints, checksums, scratch.
    wanted = [needle.lower() for needle in needles]
    found = []
    for path in sorted(p for p in warehouse.rglob("*") if p.is_file()):
        text = path.read_bytes().lower()
        if any(needle.encode() in text for needle in wanted):
            found.append(str(path))
            continue
        if path.suffix == ".parquet":
            values = repr(pq.read_table(path).to_pylist()).lower()
            if any(needle in values for needle in wanted):
                found.append(str(path))
    return found


# --- A two-batch lake, for the build factories (silver/gold test_builds.py) --------------------
# Batch 1 lands customers a, b, c (no consent), e, f and g with their readings; batch 2 brings
# b's withdrawal, a new customer d, a late and older record of e (which changes nothing), new
# phone readings of a, c and f (f's first), and new steps at 30 (a) and 9 (c). Changed in
# batch 2: b, d, e.

Row = dict[str, object]


def moments(spark: SparkSession, *rows: tuple[str, int]) -> DataFrame:
    """(serialNumber, sensorReadingTime) pairs."""
    return spark.createDataFrame(list(rows), "serialNumber STRING, sensorReadingTime BIGINT")


def landed_customer(
    email: str, serial: str, batch: int, *, updated: int = 1, consent: int | None = 0
) -> Row:
    return {
        "customerName": email.split("@")[0],
        "email": email,
        "serialNumber": serial,
        "registrationDate": 1,
        "lastUpdateDate": updated,
        "shareWithResearchAsOfDate": consent,
        "_batch": batch,
    }


def landed_reading(user: str, timestamp: int, batch: int) -> Row:
    return {"user": user, "timestamp": timestamp, "x": 1.0, "y": 2.0, "z": 3.0, "_batch": batch}


def landed_step(time: int, serial: str, batch: int) -> Row:
    return {
        "sensorReadingTime": time,
        "serialNumber": serial,
        "distanceFromObject": 7,
        "_batch": batch,
    }


def landing_frame(spark: SparkSession, table: TableSpec, rows: Iterable[Row]) -> DataFrame:
    """Rows of a landing table (lineage: one file per batch, one line per row; None elsewhere)."""
    lineage = [
        {"_source_file": f"{table.name}-{row['_batch']}.json", "_source_line": line, **row}
        for line, row in enumerate(rows, 1)
    ]
    values = [tuple(row.get(column) for column in table.column_names) for row in lineage]
    return spark.createDataFrame(values, table.row_schema)


def only(rows: DataFrame, column: str, values: Iterable[object]) -> DataFrame:
    return rows.where(F.col(column).isin(list(values)))


def one_column(spark: SparkSession, column: str, *values: str) -> DataFrame:
    return spark.createDataFrame([(value,) for value in values], f"{column} STRING")


@dataclass(frozen=True)
class Lake:
    customer_landing: DataFrame
    phone_landing: DataFrame
    step_landing: DataFrame
    customer_trusted: DataFrame
    accelerometer_trusted: DataFrame
    step_trainer_trusted: DataFrame


def two_batch_lake(spark: SparkSession, salt: str) -> Lake:
    """The lake of the build-factory tests (tests/silver, tests/gold: test_builds.py)."""
    customers = landing_frame(
        spark,
        CUSTOMER_LANDING,
        [
            landed_customer("a@x", "s1", 1),
            landed_customer("b@x", "s2", 1),
            landed_customer("c@x", "s3", 1, consent=None),
            landed_customer("e@x", "s5", 1, updated=5),
            landed_customer("f@x", "s6", 1),
            landed_customer("g@x", "s7", 1),
            landed_customer("b@x", "s2", 2, updated=2, consent=None),
            landed_customer("d@x", "s4", 2),
            landed_customer("e@x", "s5", 2, updated=1, consent=None),
        ],
    )
    phone = landing_frame(
        spark,
        ACCELEROMETER_LANDING,
        [
            landed_reading(user, time, batch)
            for user, time, batch in [
                *[("a@x", 10, 1), ("a@x", 30, 1), ("b@x", 7, 1), ("c@x", 9, 1)],
                *[("d@x", 5, 1), ("e@x", 8, 1), ("g@x", 50, 1)],
                *[("a@x", 20, 2), ("c@x", 21, 2), ("f@x", 40, 2)],
            ]
        ],
    )
    steps = landing_frame(
        spark,
        STEP_TRAINER_LANDING,
        [
            landed_step(time, serial, batch)
            for time, serial, batch in [
                *[(10, "s1", 1), (20, "s1", 1), (7, "s2", 1), (5, "s4", 1)],
                *[(8, "s5", 1), (40, "s6", 1), (50, "s7", 1)],
                *[(30, "s1", 2), (9, "s3", 2)],
            ]
        ],
    )
    customer_trusted = customers.transform(trusted_customers(salt))
    accelerometer_trusted = phone.transform(
        trusted_accelerometer(customer_trusted, consent_cutoff=True)
    )
    step_trainer_trusted = steps.transform(
        trusted_step_trainer(customer_trusted, accelerometer_trusted)
    )
    return Lake(
        customers, phone, steps, customer_trusted, accelerometer_trusted, step_trainer_trusted
    )


def layer_table_rows(warehouse: Path) -> dict[str, int]:
    """Rows of every table the pipeline's layers write, read without an engine (deltalake's
    QueryBuilder, which reads the silver tables' deletion vectors)."""
    names = [job.table for jobs in LAYERS.values() for job in jobs]
    return {name: _row_count(table_location(str(warehouse), name)) for name in names}


def _row_count(location: str) -> int:
    query = QueryBuilder().register("t", DeltaTable(location))
    return int(pa.table(query.execute("SELECT count(*) AS n FROM t").read_all())["n"][0].as_py())


# --- Processes -------------------------------------------------------------------------------


class Command:
    """A process whose stderr is collected, line by line, as it arrives."""

    def __init__(self, argv: list[str], **env: str) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "RUST_LOG": "error", **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, f"exited before {text!r}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{self.stderr}"
            time.sleep(0.05)

    def finish(self, timeout: float = 180) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running after {timeout}s:\n{self.stderr}") from None
        self._reader.join(timeout=10)
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def lakehouse(*args: str, **env: str) -> Command:
    """`python -m lakehouse <args>` as a `Command`."""
    return Command([sys.executable, "-m", "lakehouse", *args], **env)


# --- Storage outages --------------------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy on loopback in front of a server's port, whose link can be cut and restored.

    `cut()` is a storage outage as clients meet it: open connections are reset and new ones
    refused (botocore's `EndpointConnectionError`) until `restore()` listens again, on the
    same port. Clients point at `endpoint` instead of the server.
    """

    def __init__(self, target: str) -> None:
        self.target_host, _, port = target.removeprefix("http://").partition(":")
        self.target_port = int(port)
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.port = 0
        self.restore()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() first: a close() alone leaves a thread blocked in accept() and
                # the port listening.
                with suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for connection in self._open:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection((self.target_host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

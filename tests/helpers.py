"""Helpers shared by more than one test module; the fixtures live in `conftest.py`.

Test modules import helpers from here, never from each other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import Config, load_config
from lakehouse.core.delta_log import table_version

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

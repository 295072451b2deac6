"""The same operations on Sail's local-cluster mode (a separate server, its driver and workers
exchanging data, reached as `engine=connect`) and on the embedded engine give the same tables,
row by row, after every step and at every version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import Config
from lakehouse.core.delta_log import table_version
from tests.helpers import RUN_LINEAGE, deliver, overrides, rows, snapshot

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=40, readings_per_customer=8, files=4, malformed=1, seed=11)
AUDITED = (
    "silver.customer_trusted",
    "silver.step_trainer_trusted",
    "gold.machine_learning_curated",
)


def operate(spark: SparkSession, config: Config, engine: list[str], data: Path) -> list[Any]:
    """Two deliveries, a withdrawal of consent, an erasure: every table after each step, then
    every version of the audited tables."""
    landing = Path(config.paths.landing)
    files = sorted(data.glob("*/*.json"))
    early = [f for f in files if f.stem.endswith(("0000", "0001"))]
    seen: list[Any] = []
    for delivery in (early, [f for f in files if f not in early]):
        deliver(landing, delivery)
        run_pipeline(spark, config)
        seen.append(snapshot(spark, landing))

    customers = spark.table("silver.customer_trusted").orderBy("email").limit(2).collect()
    withdrawn, erased = customers
    withdrawal = {
        "customerName": withdrawn["customerName"],
        "email": withdrawn["email"],
        "serialNumber": withdrawn["serialNumber"],
        "lastUpdateDate": withdrawn["lastUpdateDate"] + 1,
    }
    (landing / "customer" / "withdrawal.json").write_text(json.dumps(withdrawal) + "\n")
    run_pipeline(spark, config)
    seen.append(snapshot(spark, landing))
    # What the remote engine lacks runs through deltalake against the same storage.
    assert main(["history", "gold.customer_curated", *overrides(config), *engine]) == 0
    assert main(["restore", "gold.customer_curated", "1", *overrides(config), *engine]) == 0
    seen.append(rows(spark.table("gold.customer_curated").drop(*RUN_LINEAGE)))

    assert main(["erase", "--email", erased["email"], *overrides(config), *engine]) == 0
    seen.append(snapshot(spark, landing))
    seen.extend(every_version(spark, config, name) for name in AUDITED)
    return seen


def every_version(spark: SparkSession, config: Config, name: str) -> list[list[Any]]:
    """The table at each of its versions, read with VERSION AS OF (lineage columns aside)."""
    newest = table_version(f"{config.paths.warehouse}/{name.replace('.', '/')}")
    assert newest is not None and newest > 3
    held = []
    for version in range(newest + 1):
        frame = spark.sql(f"SELECT * FROM {name} VERSION AS OF {version}")
        held.append(rows(frame.drop(*RUN_LINEAGE)))
    return held


def test_local_cluster_mode_gives_the_embedded_engine_s_tables(  # type: ignore[no-untyped-def]
    spark: SparkSession, cluster_spark: SparkSession, cluster_remote: str, make_config, tmp_path
):
    data = tmp_path / "data"
    generate(data, SAMPLE)
    embedded = make_config(
        f"paths.landing={tmp_path / 'embedded' / 'landing'}",
        f"paths.warehouse={tmp_path / 'embedded' / 'warehouse'}",
    )
    engine = ["engine=connect", f"engine.remote={cluster_remote}"]
    cluster = make_config(
        f"paths.landing={tmp_path / 'cluster' / 'landing'}",
        f"paths.warehouse={tmp_path / 'cluster' / 'warehouse'}",
        *engine,
    )

    expected = operate(spark, embedded, [], data)
    got = operate(cluster_spark, cluster, engine, data)

    assert all(table for table in expected[1].values())  # every table has rows by then
    steps = ("first delivery", "second delivery", "withdrawal", "restore", "erasure", *AUDITED)
    for step, want, have in zip(steps, expected, got, strict=True):
        assert have == want, step

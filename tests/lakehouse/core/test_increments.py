"""Incremental runs converge: any split, order, re-delivery or crash ends in one full run's tables.

Property-style: seeded loops over generated data deliver the files in random chunks and
orders, re-deliver some, crash some runs at random commit points, and compare every table,
row by row, with one full run over all the files.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import Config
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, InjectedFault
from tests.helpers import ALL_TABLES, deliver, full_run, snapshot, versions

pytestmark = pytest.mark.slow

COMMIT_POINTS = [
    f"{when}:{table}"
    for table in (
        *ALL_TABLES,
        "bronze.ingested_files",
        "ops.watermarks",
        "ops.runs",
        "ops.run_tables",
    )
    for when in ("before", "after")
]


def crashing_run(spark: SparkSession, config: Config, point: str, monkeypatch) -> bool:  # type: ignore[no-untyped-def]
    """Run with a simulated crash at `point`; True when the crash happened."""
    with monkeypatch.context() as patch:
        patch.setenv(FAULT_ENV, point)
        patch.setenv(ACTION_ENV, "raise")
        try:
            run_pipeline(spark, config)
        except InjectedFault:
            return True
    return False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_splits_orders_redeliveries_and_crashes_converge(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path, monkeypatch, seed: int
):
    data = tmp_path / "data"
    generate(data, GenerateOptions(customers=40, readings_per_customer=8, files=4, seed=seed))
    expected = full_run(spark, make_config, data)

    config = make_config()
    landing = Path(config.paths.landing)
    rng = random.Random(seed)
    files = sorted(data.glob("*/*.json"))
    rng.shuffle(files)
    cuts = sorted(rng.sample(range(1, len(files)), k=rng.randint(2, 4)))
    chunks = [files[a:b] for a, b in zip([0, *cuts], [*cuts, len(files)], strict=True)]
    delivered: list[Path] = []
    crashes = 0
    for chunk in chunks:
        again = rng.sample(delivered, k=min(len(delivered), 2))
        time.sleep(0.01)  # a re-delivered copy gets a new modification time
        deliver(landing, chunk + again)
        delivered += chunk
        if rng.random() < 0.6:
            crashes += crashing_run(spark, config, rng.choice(COMMIT_POINTS), monkeypatch)
        else:
            run_pipeline(spark, config)
    run_pipeline(spark, config)

    assert snapshot(spark, landing) == expected, f"chunks {[len(c) for c in chunks]}"
    before = versions(config)
    run_pipeline(spark, config)
    assert versions(config) == before, "a run with nothing new wrote a table version"


def test_a_run_crashed_at_any_commit_point_is_completed_by_the_next(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path, monkeypatch
):
    data = tmp_path / "data"
    generate(data, GenerateOptions(customers=20, readings_per_customer=6, files=2, seed=11))
    expected = full_run(spark, make_config, data)
    first_run = make_config(f"paths.warehouse={tmp_path / 'after-first-run'}")
    landing = Path(first_run.paths.landing)
    deliver(landing, sorted(data.glob("*/*-0001.json")))
    run_pipeline(spark, first_run)
    deliver(landing, sorted(data.glob("*/*-000[23].json")))

    wrong = []
    for number, point in enumerate(COMMIT_POINTS):
        warehouse = tmp_path / f"crash-{number}"
        shutil.copytree(first_run.paths.warehouse, warehouse)
        config = make_config(f"paths.warehouse={warehouse}")
        crashed = crashing_run(spark, config, point, monkeypatch)
        run_pipeline(spark, config)
        if not crashed or snapshot(spark, landing) != expected:
            wrong.append(f"{point} ({'differs' if crashed else 'never reached'})")
    assert not wrong

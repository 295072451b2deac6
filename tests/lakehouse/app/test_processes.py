"""Real processes: a run killed with SIGKILL, and two runs against one warehouse at once."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.config import Config
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, STALL_ENV
from lakehouse.core.lock import LOCK_FILE
from tests.helpers import ROOT, deliver, full_run, rows, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.serial]

OPTIONS = GenerateOptions(customers=60, readings_per_customer=20, files=3, seed=5)


def start_run(config: Config, *overrides: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakehouse",
            "run",
            f"paths.landing={config.paths.landing}",
            f"paths.warehouse={config.paths.warehouse}",
            *overrides,
        ],
        cwd=ROOT,
        env={**os.environ, "RUST_LOG": "error", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=180)
    return process.returncode, stderr


def prepared(spark: SparkSession, make_config, tmp_path: Path):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    generate(data, OPTIONS)
    expected = full_run(spark, make_config, data)
    config = make_config()
    deliver(Path(config.paths.landing), sorted(data.glob("*/*.json")))
    return config, expected


def test_runs_killed_mid_way_are_completed_by_the_next(spark: SparkSession, make_config, tmp_path):  # type: ignore[no-untyped-def]
    config, expected = prepared(spark, make_config, tmp_path)

    killed = start_run(config, **{FAULT_ENV: "after:silver.accelerometer_trusted"})
    assert finish(killed)[0] == -9
    # And once more at an arbitrary moment, wherever the run happens to be.
    second = start_run(config)
    time.sleep(random.Random(3).uniform(2.0, 4.0))
    second.kill()
    finish(second)
    code, stderr = finish(start_run(config))

    assert code == 0, stderr
    attach_warehouse(spark, config.paths.warehouse)
    assert snapshot(spark, Path(config.paths.landing)) == expected


def test_two_runs_at_once_take_turns(spark: SparkSession, make_config, tmp_path):  # type: ignore[no-untyped-def]
    config, expected = prepared(spark, make_config, tmp_path)
    lock = Path(config.paths.warehouse, LOCK_FILE)
    # The first run stalls mid-way while holding the warehouse.
    first = start_run(
        config,
        **{FAULT_ENV: "after:bronze.customer_landing", ACTION_ENV: "stall", STALL_ENV: "8"},
    )
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)

    impatient = start_run(config, "run.lock_timeout_seconds=0")
    patient = start_run(config, "run.lock_timeout_seconds=120")
    impatient_code, impatient_err = finish(impatient)
    first_code, first_err = finish(first)
    patient_code, patient_err = finish(patient)

    assert impatient_code == 3 and "in use by another run" in impatient_err
    assert first_code == 0, first_err
    assert patient_code == 0 and "waiting up to 120s" in patient_err, patient_err
    attach_warehouse(spark, config.paths.warehouse)
    assert snapshot(spark, Path(config.paths.landing)) == expected
    ingested = spark.table("bronze.ingested_files")
    files = ingested.select("file").distinct().count()
    assert len(rows(ingested, "ingestion_run_id", "file")) == files

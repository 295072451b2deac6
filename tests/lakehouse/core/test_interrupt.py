"""Ctrl-C and SIGTERM on real processes: a run stops within seconds, says so in one line, exits
130 / 143, leaves the warehouse free (file lock or S3 lease), and the next run completes it.

A signal is sent while a run is stalled at a commit point (deterministic: mid-run, engine up,
lock held), and at fixed early moments of an unstalled run (wherever it happens to be: loading,
starting the engine, taking the lock, writing). A second signal must end the process at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.config import Config, load_config
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, STALL_ENV
from lakehouse.core.lock import LOCK_FILE
from lakehouse.core.scratch import STAGING
from lakehouse.core.storage import s3_client, split_s3, upload_tree
from tests.helpers import ROOT, Command, deliver, lakehouse, s3_config, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.serial]

SAMPLE = GenerateOptions(customers=50, readings_per_customer=20, files=2, seed=1)
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
# Generous: cleanup takes well under a second; the promise is "seconds, not minutes".
STOPS_WITHIN = 15.0


def run_command(config: Config, *overrides: str, **env: str) -> Command:
    return lakehouse(
        "run",
        f"paths.landing={config.paths.landing}",
        f"paths.warehouse={config.paths.warehouse}",
        *overrides,
        **env,
    )


def interrupt(command: Command, signum: int) -> tuple[int, float]:
    """Send `signum`; the exit status and the seconds it took to stop."""
    sent = time.monotonic()
    command.process.send_signal(signum)
    code = command.finish(timeout=60)
    return code, time.monotonic() - sent


def assert_reported(command: Command, signum: int) -> None:
    """No traceback; the last line says what happened, once."""
    name = signal.Signals(signum).name
    said = [line for line in command.lines if line.startswith("interrupted:")]
    assert "Traceback" not in command.stderr, command.stderr
    assert len(said) == 1 and command.lines[-1] == said[0], command.stderr
    assert name in said[0], said


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("signals") / "data"
    generate(data, SAMPLE)
    return data


@pytest.fixture(scope="module")
def expected(spark: SparkSession, sample: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The tables of one uninterrupted run over the sample."""
    root = tmp_path_factory.mktemp("uninterrupted")
    config = load_config([f"paths.landing={root / 'landing'}", f"paths.warehouse={root / 'wh'}"])
    deliver(Path(config.paths.landing), sorted(sample.glob("*/*.json")))
    run_pipeline(spark, config)
    return snapshot(spark, Path(config.paths.landing))


def delivered(make_config, sample: Path) -> Config:  # type: ignore[no-untyped-def]
    config: Config = make_config()
    deliver(Path(config.paths.landing), sorted(sample.glob("*/*.json")))
    return config


def run_log(spark: SparkSession, warehouse: str) -> list[dict[str, Any]]:
    attach_warehouse(spark, warehouse)
    runs = spark.table("ops.runs").orderBy("started_at").collect()
    return [row.asDict() for row in runs]


def assert_next_run_completes(
    spark: SparkSession, config: Config, expected: dict[str, Any], *overrides: str
) -> None:
    """A run right after takes the warehouse at once and ends with the uninterrupted tables."""
    after = run_command(config, "run.lock_timeout_seconds=0", *overrides)
    assert after.finish() == 0, after.stderr
    runs = run_log(spark, config.paths.warehouse)
    assert runs[-1]["status"] == "succeeded"
    assert [run["status"] for run in runs[:-1]] == ["interrupted"] * (len(runs) - 1), runs
    attach_warehouse(spark, config.paths.warehouse)
    assert snapshot(spark, Path(config.paths.landing)) == expected


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_stops_it_records_it_and_frees_the_warehouse(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, sample: Path, expected, signum: int
):
    config = delivered(make_config, sample)
    stalled = run_command(
        config,
        **{FAULT_ENV: "before:silver.accelerometer_trusted", ACTION_ENV: "stall", STALL_ENV: "300"},
    )
    stalled.wait_for("silver.accelerometer_trusted: started")
    time.sleep(0.5)  # into the stall: engine up, lock held, bronze and a silver table written

    code, seconds = interrupt(stalled, signum)

    assert code == EXIT[signum] and seconds < STOPS_WITHIN, (code, seconds, stalled.stderr)
    assert_reported(stalled, signum)
    assert "recorded as interrupted" in stalled.lines[-1]
    # The run recorded itself: ended, with the signal as its error (not left `running`).
    [run] = run_log(spark, config.paths.warehouse)
    assert run["status"] == "interrupted" and run["ended_at"] is not None, run
    assert run["error"] == f"Interrupted: {signal.Signals(signum).name}", run
    assert run["run_id"] in stalled.lines[-1]
    assert not Path(config.paths.warehouse, STAGING).exists()
    assert Path(config.paths.warehouse, LOCK_FILE).read_text() == ""
    assert_next_run_completes(spark, config, expected)


@pytest.mark.parametrize(
    ("signum", "after_seconds"),
    [(signal.SIGINT, 1.0), (signal.SIGTERM, 3.0)],
    ids=["SIGINT-1s", "SIGTERM-3s"],
)
def test_a_signal_at_an_early_moment_stops_the_run_and_the_next_converges(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, sample: Path, expected, signum: int, after_seconds: float
):
    config = delivered(make_config, sample)
    # Only a backstop: the last commit stalls, so a fast machine is still mid-run when the
    # signal comes. Where the run is at that moment is left to chance.
    run = run_command(
        config,
        **{FAULT_ENV: "after:gold.machine_learning_curated", ACTION_ENV: "stall", STALL_ENV: "300"},
    )
    time.sleep(after_seconds)
    assert run.process.poll() is None, run.stderr

    code, seconds = interrupt(run, signum)

    assert code == EXIT[signum] and seconds < STOPS_WITHIN, (code, seconds, run.stderr)
    assert_reported(run, signum)
    assert_next_run_completes(spark, config, expected)


def test_a_run_whose_engine_stopped_itself_on_ctrl_c_still_ends_within_seconds(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, sample: Path, expected, tmp_path: Path
):
    """Should Sail's own SIGINT handler win (it stops the server), the run must not hang."""
    config = delivered(make_config, sample)
    script = tmp_path / "sail_keeps_sigint.py"
    script.write_text(
        "import sys\n"
        "import lakehouse.core.engine\n"
        "lakehouse.core.engine.reclaim_signal_handlers = lambda: None\n"
        "from lakehouse.__main__ import main\n"
        "sys.argv[0] = 'lakehouse'\n"
        "sys.exit(main())\n"
    )
    command = Command(
        [
            sys.executable,
            str(script),
            "run",
            f"paths.landing={config.paths.landing}",
            f"paths.warehouse={config.paths.warehouse}",
        ],
        **{FAULT_ENV: "before:silver.customer_trusted", ACTION_ENV: "stall", STALL_ENV: "300"},
    )
    command.wait_for("silver.customer_trusted: started")
    time.sleep(0.5)

    code, seconds = interrupt(command, signal.SIGINT)

    assert code == 130 and seconds < STOPS_WITHIN, (code, seconds, command.stderr)
    assert_reported(command, signal.SIGINT)
    assert_next_run_completes(spark, config, expected)


def test_a_second_signal_ends_the_process_at_once_and_a_stuck_cleanup_is_cut_short(
    tmp_path: Path,
) -> None:
    """The watcher thread ends the process even while the main thread is busy cleaning up."""
    script = tmp_path / "slow_cleanup.py"
    script.write_text(
        "import sys, time\n"
        "from lakehouse.core.interrupt import interruptible\n"
        "def command():\n"
        "    try:\n"
        "        print('working', file=sys.stderr, flush=True)\n"
        "        time.sleep(300)\n"
        "    finally:\n"
        "        print('cleaning up', file=sys.stderr, flush=True)\n"
        "        time.sleep(300)  # a cleanup that never ends\n"
        "    return 0\n"
        "sys.exit(interruptible(command, grace_seconds=float(sys.argv[1])))\n"
    )

    def start(grace: float) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(script), str(grace)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        assert process.stderr.readline().strip() == "working"
        return process

    # Ctrl-C, then Ctrl-C again while the cleanup runs: out at once.
    twice = start(grace=300)
    twice.send_signal(signal.SIGINT)
    assert twice.stderr is not None and twice.stderr.readline().strip() == "cleaning up"
    sent = time.monotonic()
    twice.send_signal(signal.SIGINT)
    _, stderr = twice.communicate(timeout=STOPS_WITHIN)
    assert twice.returncode == 130 and time.monotonic() - sent < 5, stderr
    assert "SIGINT again, exiting at once" in stderr and "Traceback" not in stderr

    # One SIGTERM and a cleanup that hangs: out after the grace period.
    once = start(grace=1)
    sent = time.monotonic()
    once.send_signal(signal.SIGTERM)
    _, stderr = once.communicate(timeout=STOPS_WITHIN)
    assert once.returncode == 143 and 1 <= time.monotonic() - sent < 5, stderr
    assert "cleanup took over 1s" in stderr and "Traceback" not in stderr


def test_an_interrupted_run_on_s3_releases_its_lease_at_once(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, bucket: str, sample: Path, expected, tmp_path
):
    overrides = [
        "storage=s3",
        f"storage.bucket={bucket}",
        f"storage.endpoint_url={moto_endpoint}",
        # Long enough that only a released lease lets the next run in at once.
        "run.lease_seconds=600",
    ]
    config = s3_config(moto_endpoint, bucket, *overrides[3:])
    local = tmp_path / "landing"
    shutil.copytree(sample, local)
    with prepared_environment(config):
        upload_tree(local, config.paths.landing)
    lease_bucket, lease_key = split_s3(f"{config.paths.warehouse}/{LOCK_FILE}")

    stalled = lakehouse(
        "run",
        *overrides,
        **{FAULT_ENV: "before:silver.customer_trusted", ACTION_ENV: "stall", STALL_ENV: "300"},
    )
    stalled.wait_for("silver.customer_trusted: started")
    time.sleep(0.5)
    code, seconds = interrupt(stalled, signal.SIGINT)

    assert code == 130 and seconds < STOPS_WITHIN, (code, seconds, stalled.stderr)
    assert_reported(stalled, signal.SIGINT)
    with prepared_environment(config):
        listed = s3_client().list_objects_v2(Bucket=lease_bucket, Prefix=lease_key)
    assert listed.get("KeyCount", 0) == 0, "the lease is still there"

    after = lakehouse("run", *overrides, "run.lock_timeout_seconds=0")
    assert after.finish() == 0, after.stderr
    with prepared_environment(config):
        runs = run_log(s3_spark, config.paths.warehouse)
        assert [run["status"] for run in runs] == ["interrupted", "succeeded"], runs
        assert snapshot(s3_spark, config.paths.landing) == expected

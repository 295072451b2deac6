"""`lakehouse run --watch`: files landed while it watches reach gold, a file still being written
is not read half, runs never overlap another process's, Ctrl-C and SIGTERM stop it cleanly (a
run in progress exactly as `lakehouse run`), and what makes no sense for it is refused.

The process tests run a real `python -m lakehouse run --watch` and wait for tables by polling
them (generous timeouts; no duration is asserted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from deltalake import DeltaTable

from benchmarks.deliveries import DELIVERY_TIME, latest_records, readings_delivery
from lakehouse.app.cli import main
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.watch import PolledLanding, Signature, settled, triggers
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import table_location
from lakehouse.core.config import ConfigError, load_config
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, STALL_ENV
from lakehouse.core.lock import warehouse_lock
from lakehouse.core.storage import upload_file
from tests.helpers import Command, deliver, lakehouse, s3_config

SAMPLE = GenerateOptions(customers=50, readings_per_customer=20, files=2, seed=1)
STARTS_WITHIN = 180.0  # the engine's start and a first run on a busy machine
ARRIVES_WITHIN = 120.0
# Each test delivery's readings start this far after the previous one's.
SPACING = 10**9
WATCHING = "watching "  # the line a watcher logs when it waits


# --- What counts as a change, settling, configuration (in process) ----------------------------


def test_only_finished_json_files_in_source_folders_trigger_a_run() -> None:
    landing = "/data/landing"
    assert triggers("/data/landing/accelerometer/a.json", landing)
    assert triggers("/data/landing/customer/c.json.gz", landing)
    assert triggers("s3://b/landing/step_trainer/s.json", "s3://b/landing/")
    assert not triggers("/data/landing/accelerometer/.a.json", landing)  # being written
    assert not triggers("/data/landing/accelerometer/a.json.part", landing)
    assert not triggers("/data/landing/accelerometer/readme.txt", landing)
    assert not triggers("/data/landing/accelerometer/old/a.json", landing)  # a subfolder
    assert not triggers("/data/landing/exports/a.json", landing)  # not a source
    assert not triggers("/data/landing/a.json", landing)
    assert not triggers("/data/landing-2/customer/c.json", landing)


class GrowingFile:
    """A landing zone whose one file grows at each look until `grows` looks have passed."""

    def __init__(self, grows: int) -> None:
        self.grows = grows
        self.looks = 0

    def wait(self, seconds: float) -> set[str]:
        return set()

    def signatures(self, paths: set[str]) -> dict[str, Signature]:
        self.looks += 1
        size = min(self.looks, self.grows)
        return {path: (size, size, None) for path in paths}


def test_a_change_settles_only_once_the_file_stops_growing() -> None:
    landing = GrowingFile(grows=3)
    assert settled(landing, {"a.json"}, 0.01) == {"a.json"}
    # Looked at while it grew (1, 2, 3), then once more to see it stay at 3.
    assert landing.looks == 4


@pytest.mark.slow
def test_an_s3_landing_zone_is_polled_for_new_and_changed_files(
    moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    config = s3_config(moto_endpoint, bucket)
    landing = config.paths.landing
    local = tmp_path / "a.json"
    local.write_text('{"user": "a@x"}\n')
    with prepared_environment(config):
        upload_file(local, f"{landing}/accelerometer/old.json")
        polled = PolledLanding(landing)  # what is there at start is the first run's
        assert polled.wait(0) == set()
        upload_file(local, f"{landing}/accelerometer/new.json")
        upload_file(local, f"{landing}/accelerometer/.new.json")  # temporary
        upload_file(local, f"{landing}/exports/other.json")  # not a source
        assert polled.wait(0) == {f"{landing}/accelerometer/new.json"}
        assert polled.wait(0) == set()
        local.write_text('{"user": "b@x"}\n')
        upload_file(local, f"{landing}/accelerometer/old.json")  # a new delivery, same name
        assert polled.wait(0) == {f"{landing}/accelerometer/old.json"}
        found = polled.signatures({f"{landing}/accelerometer/old.json", f"{landing}/gone.json"})
        assert found[f"{landing}/gone.json"] is None
        assert found[f"{landing}/accelerometer/old.json"] is not None


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("run.watch_settle_seconds=-1", "run.watch_settle_seconds=-1.0"),
        ("run.watch_settle_seconds=nan", "run.watch_settle_seconds=nan"),
        ("run.watch_poll_seconds=0", "run.watch_poll_seconds=0.0"),
        ("run.watch_poll_seconds=-2", "run.watch_poll_seconds=-2.0"),
        ("run.watch_poll_seconds=inf", "run.watch_poll_seconds=inf"),
    ],
)
def test_watch_settings_out_of_range_are_configuration_errors(
    override: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=says):
        load_config([override])
    paths = [f"paths.landing={tmp_path / 'landing'}", f"paths.warehouse={tmp_path / 'wh'}"]
    assert main(["run", "--watch", override, *paths]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration error: ") and says in err and "\n" not in err, err
    assert not (tmp_path / "wh").exists()


def test_watch_defaults_are_small_and_valid() -> None:
    run = load_config([]).run
    assert 0 < run.watch_settle_seconds <= 2 and 0 < run.watch_poll_seconds <= 10


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--full-refresh"], "takes no --full-refresh"),
        (["--full-refresh", "silver"], "takes no --full-refresh"),
        (["--rekey"], "takes no --rekey"),
        (["silver"], "--watch silver: it does not include bronze"),
        (["gold.machine_learning_curated"], "does not include bronze"),
    ],
)
def test_options_that_make_no_sense_for_a_watcher_are_refused_in_one_line(
    options: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [f"paths.landing={tmp_path / 'landing'}", f"paths.warehouse={tmp_path / 'wh'}"]
    # `--watch` after them: a bare `--full-refresh` would take the next word as its target.
    assert main(["run", *options, "--watch", *paths]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err and "\n" not in err, err
    assert not (tmp_path / "wh").exists()


# --- Real watchers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("watch-sample") / "data"
    generate(data, SAMPLE)
    return data


@pytest.fixture
def site(sample: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A landing zone holding the sample, and a warehouse not built yet."""
    landing = tmp_path / "landing"
    deliver(landing, sorted(sample.glob("*/*.json")))
    return landing, tmp_path / "wh"


def watcher(landing: Path, warehouse: Path, *overrides: str, **env: str) -> Command:
    paths = [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]
    return lakehouse("run", "--watch", *paths, *overrides, **env)


def table_rows(warehouse: Path, name: str) -> list[dict[str, object]]:
    """The table's rows, read by path with deltalake (none while it does not exist)."""
    location = table_location(str(warehouse), name)
    if not Path(location, "_delta_log").is_dir():
        return []
    return DeltaTable(location).to_pyarrow_table().to_pylist()


def gold_times(warehouse: Path) -> set[int]:
    rows = table_rows(warehouse, "gold.machine_learning_curated")
    return {int(str(row["sensorReadingTime"])) for row in rows}


def statuses(warehouse: Path) -> list[str]:
    runs = sorted(table_rows(warehouse, "ops.runs"), key=lambda run: str(run["started_at"]))
    return [str(run["status"]) for run in runs]


def eventually(check: Callable[[], bool], process: Command, seconds: float) -> None:
    """Poll `check` every 0.2 s until it holds; fail if the watcher ends or time runs out."""
    deadline = time.monotonic() + seconds
    while not check():
        assert process.process.poll() is None, process.stderr
        assert time.monotonic() < deadline, process.stderr
        time.sleep(0.2)


def land_delivery(landing: Path, scratch: Path, number: int) -> set[int]:
    """Land new readings of existing customers, each file written aside and renamed into
    place; the step times gold should then hold (those of consenting customers)."""
    out = scratch / f"delivery-{number}"
    readings_delivery(
        landing,
        out,
        accelerometer_readings=120,
        customer_count=20,
        consent_count=0,
        start=DELIVERY_TIME + number * SPACING,
        name=f"watch-{number}",
    )
    for file in sorted(out.glob("*/*.json")):
        temporary = landing / file.parent.name / f".{file.name}"
        shutil.copyfile(file, temporary)
        os.replace(temporary, landing / file.parent.name / file.name)
    return consenting_steps(landing, out)


def consenting_steps(landing: Path, out: Path) -> set[int]:
    customers = {str(r["email"]): r for r in latest_records(landing)}
    owners = {}
    for line in next(out.glob("accelerometer/*.json")).read_text().splitlines():
        reading = json.loads(line)
        owner = customers[reading["user"]]
        owners[(owner["serialNumber"], reading["timestamp"])] = owner
    times = set()
    for line in next(out.glob("step_trainer/*.json")).read_text().splitlines():
        step = json.loads(line)
        owner = owners[(step["serialNumber"], step["sensorReadingTime"])]
        if owner.get("shareWithResearchAsOfDate") is not None:
            times.add(int(step["sensorReadingTime"]))
    return times


def idle(process: Command) -> bool:
    """Whether the watcher's last word is that it watches (its last run, if any, is over)."""
    return WATCHING in process.lines[-1]


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def stop(process: Command, signum: int) -> tuple[int, list[str]]:
    process.process.send_signal(signum)
    return process.finish(timeout=300), list(process.lines)


@pytest.mark.slow
@pytest.mark.serial
def test_files_landed_while_watching_reach_gold_whole_and_sigterm_stops_it(
    site: tuple[Path, Path], tmp_path: Path
) -> None:
    landing, warehouse = site
    # A writer that pauses mid-line for 0.5 s must not be read in between.
    running = watcher(landing, warehouse, "run.watch_settle_seconds=1.5")
    running.wait_for(WATCHING, STARTS_WITHIN)
    assert statuses(warehouse) == ["succeeded"]  # what waited was run at once

    expected = land_delivery(landing, tmp_path, 1)
    assert expected
    eventually(lambda: expected <= gold_times(warehouse), running, ARRIVES_WITHIN)

    # A file written in two halves, cut inside a line: every line lands, none is quarantined.
    out = tmp_path / "slow"
    start = DELIVERY_TIME + 2 * SPACING
    readings_delivery(landing, out, accelerometer_readings=120, consent_count=0, start=start)
    content = (out / "accelerometer" / "accelerometer-delivery.json").read_text()
    slow = landing / "accelerometer" / "slowly-written.json"
    middle = len(content) // 2
    assert content[middle - 1] != "\n"
    with open(slow, "w") as writing:
        writing.write(content[:middle])
        writing.flush()
        time.sleep(0.5)
        writing.write(content[middle:])

    def landed() -> list[dict[str, object]]:
        rows = table_rows(warehouse, "bronze.accelerometer_landing")
        return [row for row in rows if row["_source_file"] == str(slow)]

    eventually(lambda: bool(landed()), running, ARRIVES_WITHIN)
    rows = landed()
    assert len(rows) == len(content.splitlines())
    assert {row["_source_checksum"] for row in rows} == {
        hashlib.sha256(content.encode()).hexdigest()
    }
    quarantined = table_rows(warehouse, "bronze.quarantine")
    assert not [row for row in quarantined if row["source_file"] == str(slow)]

    # Idle: SIGTERM ends it at once, and nothing is written on the way out.
    eventually(lambda: idle(running), running, ARRIVES_WITHIN)
    before = listing(warehouse)
    code, lines = stop(running, signal.SIGTERM)
    assert code == 143, lines
    assert lines[-1].startswith("interrupted: SIGTERM; the watcher stopped between runs"), lines
    assert "Traceback" not in "\n".join(lines)
    assert listing(warehouse) == before
    assert set(statuses(warehouse)) == {"succeeded"}


@pytest.mark.slow
@pytest.mark.serial
def test_sigint_while_idle_exits_130_and_writes_nothing(site: tuple[Path, Path]) -> None:
    landing, warehouse = site
    running = watcher(landing, warehouse)
    running.wait_for(WATCHING, STARTS_WITHIN)
    before = listing(warehouse)
    code, lines = stop(running, signal.SIGINT)
    assert code == 130, lines
    assert lines[-1].startswith("interrupted: SIGINT; the watcher stopped between runs"), lines
    assert "Traceback" not in "\n".join(lines)
    assert listing(warehouse) == before
    assert statuses(warehouse) == ["succeeded"]


@pytest.mark.slow
@pytest.mark.serial
def test_a_run_in_progress_holds_the_warehouse_and_sigint_interrupts_it_like_a_run(
    site: tuple[Path, Path],
) -> None:
    landing, warehouse = site
    point = "before:silver.accelerometer_trusted"
    stall = {FAULT_ENV: point, ACTION_ENV: "stall", STALL_ENV: "300"}
    running = watcher(landing, warehouse, **stall)
    running.wait_for(f"fault: stalling at {point}", STARTS_WITHIN)

    # Another run meanwhile: busy, as beside any other run (no two runs at once).
    paths = [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]
    other = lakehouse("run", *paths, "run.lock_timeout_seconds=0")
    code, stderr = other.finish(timeout=300), other.stderr
    assert code == 3 and "busy: " in stderr, stderr

    code, lines = stop(running, signal.SIGINT)
    assert code == 130, lines
    assert (
        lines[-1].startswith("interrupted: SIGINT; run ")
        and "recorded as interrupted" in (lines[-1])
    ), lines
    assert statuses(warehouse) == ["interrupted"]

    # The next run (a watcher again) completes the work.
    again = watcher(landing, warehouse, "run.lock_timeout_seconds=0")
    again.wait_for(WATCHING, STARTS_WITHIN)
    assert statuses(warehouse) == ["interrupted", "succeeded"]
    assert gold_times(warehouse)
    code, lines = stop(again, signal.SIGINT)
    assert code == 130, lines


@pytest.mark.slow
@pytest.mark.serial
def test_a_busy_warehouse_is_waited_for_not_given_up(site: tuple[Path, Path]) -> None:
    landing, warehouse = site
    with warehouse_lock(str(warehouse), "another-process", 0):
        running = watcher(
            landing, warehouse, "run.lock_timeout_seconds=0", "run.watch_poll_seconds=0.5"
        )
        running.wait_for("busy: ", STARTS_WITHIN)
        time.sleep(2)  # tried again meanwhile, and still there
        assert running.process.poll() is None, running.stderr
        assert sum("busy: " in line for line in running.lines) >= 2, running.stderr
        assert statuses(warehouse) == []
    eventually(lambda: idle(running), running, ARRIVES_WITHIN)
    assert statuses(warehouse) == ["succeeded"]
    assert gold_times(warehouse)
    code, lines = stop(running, signal.SIGTERM)
    assert code == 143, lines

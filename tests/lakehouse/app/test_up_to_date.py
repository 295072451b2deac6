"""A run with nothing new is told so from the landing listing and the Delta logs, without the
engine (`lakehouse.app.up_to_date`); anything a run would act on sends it the ordinary way."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.app.cli import main
from lakehouse.app.tables import TABLES
from lakehouse.app.up_to_date import up_to_date
from lakehouse.core.config import Config, load_config
from lakehouse.core.delta_log import table_version
from lakehouse.core.lock import LOCK_FILE
from lakehouse.core.ops_tables import RUNS
from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # one real run builds the warehouse every test starts from

Capture = pytest.CaptureFixture[str]


def overrides(root: Path, *extra: str) -> list[str]:
    return [f"paths.landing={root / 'landing'}", f"paths.warehouse={root / 'wh'}", *extra]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A landing zone and warehouse after one run, and a copy to put them back from."""
    root = tmp_path_factory.mktemp("up-to-date")
    site, kept = root / "site", root / "kept"
    sample = ["--customers", "8", "--readings-per-customer", "3", "--files", "2"]
    assert main(["generate", *sample, *overrides(site)]) == 0
    assert main(["run", "--quiet", *overrides(site)]) == 0
    shutil.copytree(site, kept)  # copy2: sizes and nanosecond times as listed
    yield site, kept


@pytest.fixture
def site(built: tuple[Path, Path], capsys: Capture) -> Path:
    """The built site at its own path (ingested files are known by path), as built."""
    site, kept = built
    shutil.rmtree(site)
    shutil.copytree(kept, site)
    capsys.readouterr()
    return site


def config(site: Path, *extra: str) -> Config:
    return load_config(overrides(site, *extra))


def versions(site: Path) -> dict[str, int | None]:
    wh = site / "wh"
    return {t.qualified_name: table_version(t.location(str(wh))) for t in TABLES}


def test_nothing_new_is_told_without_a_run(site: Path) -> None:
    results = up_to_date(config(site))
    assert results is not None
    assert all(r.version == r.version_before and not r.read for r in results)
    assert [r.table for r in results][:2] == ["bronze.customer_landing", "bronze.quarantine"]


def test_a_true_no_op_starts_no_engine_and_changes_no_table(site: Path) -> None:
    before = versions(site)
    script = (
        "import sys\n"
        "from lakehouse.app.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('pyspark' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, "run", "--format", "json", *overrides(site)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["up_to_date"] and report["run_id"] is None and report["status"] == "succeeded"
    assert ran.stderr.strip().splitlines()[-1] == "False"  # pyspark never imported
    assert versions(site) == before  # not even the run log moved


def test_the_text_report_says_no_run_was_recorded(
    site: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_engine(*_: object) -> None:
        raise AssertionError("the engine was started")

    monkeypatch.setattr("lakehouse.core.engine.open_session", no_engine)
    assert main(["run", "--quiet", *overrides(site)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("up to date: nothing new to ingest or rebuild (checked in ")
    assert out.rstrip().endswith("no run recorded)") and len(out.splitlines()) == 1
    assert err == ""


def test_skipped_files_are_still_named(
    site: Path, capsys: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    (site / "landing" / "customer" / "notes.txt").write_text("not a delivery")
    results = up_to_date(config(site))
    assert results is not None  # a skipped file is not new: nothing to ingest
    assert any("notes.txt: skipped, not a .json" in n for r in results for n in r.notes)
    assert main(["run", *overrides(site)]) == 0
    out = capsys.readouterr().out
    assert "notes:" in out and "notes.txt: skipped" in out
    assert "notes.txt: skipped" in caplog.text  # logged as a warning, as bronze logs it


def test_a_new_file_is_read(site: Path) -> None:
    record = {"customerName": "N", "email": "n@example.com", "serialNumber": "S"}
    (site / "landing" / "customer" / "late.json").write_text(json.dumps(record) + "\n")
    assert up_to_date(config(site)) is None


def test_a_touched_file_is_recorded_by_a_run(site: Path, capsys: Capture) -> None:
    touched = sorted((site / "landing" / "customer").glob("*.json"))[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert up_to_date(config(site)) is None
    ingested = site / "wh" / "bronze" / "ingested_files"
    before = DeltaTable(str(ingested)).version()
    assert main(["run", "--format", "json", *overrides(site)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run_id"]  # the ordinary path, recorded as ever
    assert DeltaTable(str(ingested)).version() > before  # its new time is remembered
    assert up_to_date(config(site)) is not None  # and the next run has nothing to do


def test_changed_rules_or_settings_rebuild(site: Path) -> None:
    rules = site / "rules"
    rules.mkdir()
    shipped = (ROOT / "silver" / "sql" / "customer_trusted.rules.yaml").read_text()
    extra = "  - name: has_a_phone\n    not_null: [phone]\n    action: drop\n"
    (rules / "silver.customer_trusted.rules.yaml").write_text(shipped.rstrip() + "\n" + extra)
    assert up_to_date(config(site, f"quality.rules_dir={rules}")) is None
    assert up_to_date(config(site, "privacy.consent_cutoff=false")) is None


def test_a_restored_table_is_rebuilt(site: Path) -> None:
    table = DeltaTable(str(site / "wh" / "silver" / "customer_trusted"))
    table.restore(0)  # the table moved past its watermark
    assert up_to_date(config(site)) is None


def test_left_over_scratch_copies_are_removed_by_a_run(site: Path) -> None:
    (site / "wh" / "_staging").mkdir()
    assert up_to_date(config(site)) is None


def test_a_killed_runs_row_is_marked_by_a_run(site: Path) -> None:
    runs = site / "wh" / "ops" / "runs"
    schema = DeltaTable(str(runs)).schema().to_arrow()
    now = datetime.now(UTC)
    row = {"run_id": "killed", "command": "run", "target": "all", "status": "running"}
    values = {**row, "started_at": now, "ended_at": None, "config_digest": "x", "error": None}
    frame = pa.Table.from_pylist([values], schema=pa.schema(schema))  # type: ignore[arg-type]
    write_deltalake(str(runs), frame, mode="append")
    assert up_to_date(config(site)) is None


def test_a_missing_table_is_created_by_a_run(site: Path) -> None:
    shutil.rmtree(site / "wh" / "gold" / "customer_curated")
    assert up_to_date(config(site)) is None


def test_a_held_warehouse_is_left_to_the_ordinary_path(site: Path) -> None:
    with open(site / "wh" / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert up_to_date(config(site)) is None
        assert main(["run", "run.lock_timeout_seconds=0", *overrides(site)]) == 3  # busy


def test_a_lost_salt_still_stops_the_run(site: Path, capsys: Capture) -> None:
    # The tests' salt is configured; `auto` looks for the warehouse's own, which is not there.
    assert main(["run", *overrides(site, "privacy.pseudonym_salt=auto")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1 and "is missing" in lines[0] and "Traceback" not in err, err
    assert not (site / "wh" / "_secrets").exists()  # no salt was drawn


def test_the_run_log_is_untouched_by_a_no_op(site: Path) -> None:
    before = table_version(RUNS.location(str(site / "wh")))
    assert main(["run", "--quiet", *overrides(site)]) == 0
    assert table_version(RUNS.location(str(site / "wh"))) == before


def test_a_no_op_on_an_s3_endpoint_named_only_in_the_configuration(
    moto_endpoint: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine-free check reads the store with the configuration's endpoint (MinIO, moto),
    not boto3's default AWS one, and leaves the process environment as it found it."""
    import boto3

    from lakehouse.app.generate import GenerateOptions, generate
    from lakehouse.core.aws import prepared_environment
    from lakehouse.core.storage import upload_tree

    bucket = f"stedi-no-op-{os.getpid()}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    options = ["storage=s3", f"storage.bucket={bucket}", f"storage.endpoint_url={moto_endpoint}"]
    generate(tmp_path / "data", GenerateOptions(customers=6, readings_per_customer=3, files=1))
    with prepared_environment(load_config(options)):
        upload_tree(tmp_path / "data", load_config(options).paths.landing)
    assert main(["run", "--quiet", *options]) == 0
    capsys.readouterr()
    environment = dict(os.environ)

    def no_engine(*_: object) -> None:
        raise AssertionError("the engine was started")

    monkeypatch.setattr("lakehouse.core.engine.open_session", no_engine)
    assert main(["run", "--quiet", *options]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("up to date: nothing new to ingest or rebuild"), (out, err)
    assert dict(os.environ) == environment

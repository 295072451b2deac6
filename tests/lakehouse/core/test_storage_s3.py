"""The lakehouse on S3 (a moto server on loopback): landing, full and incremental runs, time travel.

The same jobs run against `s3://` landing and warehouse URIs; the result must equal a run on
local folders with the same files, row by row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.config import Config
from lakehouse.core.delta_log import DeltalakeLog, table_version
from lakehouse.core.engine import open_session
from lakehouse.core.history import run_listing, table_history
from lakehouse.core.landing import landing_files
from lakehouse.core.storage import list_files, remove_tree, subfolders, upload_tree
from lakehouse.core.timetravel import resolve_as_of, rewrite_query
from tests.helpers import ALL_TABLES, s3_config, snapshot

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=40, readings_per_customer=8, files=2, malformed=1, seed=11)


def test_storage_lists_reads_and_removes_like_local_folders(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str, tmp_path: Path
):
    config = s3_config(moto_endpoint, bucket)
    with prepared_environment(config):
        data = generate_to(tmp_path / "data", SAMPLE)
        first = upload_tree(data, config.paths.landing)
        again = upload_tree(data, config.paths.landing)
        assert len(first.uploaded) == len(list(data.glob("*/*.json"))) and not first.skipped
        assert not again.uploaded and sorted(again.skipped) == sorted(first.uploaded)

        files = landing_files(config.paths.landing, "customer")
        assert [f.path for f in files] == [
            f"{config.paths.landing}/customer/{p.name}"
            for p in sorted((data / "customer").glob("*.json"))
        ]
        assert [f.size for f in files] == [
            p.stat().st_size for p in sorted((data / "customer").glob("*.json"))
        ]
        assert subfolders(config.paths.landing) == ["accelerometer", "customer", "step_trainer"]

        # A changed file under a known name is uploaded again.
        changed = sorted((data / "customer").glob("*.json"))[0]
        changed.write_text(changed.read_text() + changed.read_text().splitlines()[0] + "\n")
        assert upload_tree(data, config.paths.landing).uploaded == [files[0].path]

        remove_tree(f"{config.paths.landing}/customer")
        assert list_files(f"{config.paths.landing}/customer", ".json") == []
        assert subfolders(config.paths.landing) == ["accelerometer", "step_trainer"]


def test_full_incremental_and_time_travel_on_s3_match_local(  # type: ignore[no-untyped-def]
    spark: SparkSession,
    s3_spark: SparkSession,
    moto_endpoint: str,
    bucket: str,
    make_config,
    tmp_path: Path,
):
    config = s3_config(moto_endpoint, bucket)
    data = generate_to(tmp_path / "data", SAMPLE)
    first_half, second_half = split_files(data)

    with prepared_environment(config):
        upload_tree(first_half, config.paths.landing)
        first_run, _ = run_pipeline(s3_spark, config)
        after_first = snapshot(s3_spark, config.paths.landing)
        first_versions = {n: table_version(location(config, n)) for n in ALL_TABLES}

        upload_tree(second_half, config.paths.landing)
        second_run, results = run_pipeline(s3_spark, config)
        after_second = snapshot(s3_spark, config.paths.landing)
        # Only the new files were read by bronze; nothing was re-ingested.
        read = {r.table: r.read for r in results}
        assert read["bronze.accelerometer_landing"] == lines_in(second_half / "accelerometer")

        _, results = run_pipeline(s3_spark, config)
        assert all(r.version == r.version_before for r in results), "a no-op run wrote versions"

        # Time travel: as of the first run, every table holds what it held then.
        attached = attach_warehouse(s3_spark, config.paths.warehouse)
        as_of = resolve_as_of(s3_spark, config.paths.warehouse, first_run)
        for name in ALL_TABLES:
            query = rewrite_query(
                f"SELECT COUNT(*) FROM {name}", config.paths.warehouse, attached, as_of
            )
            assert s3_spark.sql(query).first()[0] == len(after_first[name]), name  # type: ignore[index]
            assert table_version(location(config, name)) is not None
        _, history = table_history(
            s3_spark, DeltalakeLog(), config.paths.warehouse, "bronze.accelerometer_landing"
        )
        assert [h[4] for h in history][:2] == [second_run, first_run]
        _, runs = run_listing(s3_spark, config.paths.warehouse)
        assert [r[3] for r in runs] == ["succeeded"] * 3
        assert first_versions["bronze.quarantine"] is not None

    # The same files in one local run give the same tables.
    local = make_config()
    upload_tree(first_half, local.paths.landing)
    upload_tree(second_half, local.paths.landing)
    run_pipeline(spark, local)
    assert snapshot(spark, local.paths.landing) == after_second


def location(config: Config, name: str) -> str:
    return f"{config.paths.warehouse}/{name.replace('.', '/')}"


def generate_to(folder: Path, options: GenerateOptions) -> Path:
    generate(folder, options)
    return folder


def split_files(data: Path) -> tuple[Path, Path]:
    """Two landing folders: the first file of every source, and the rest."""
    first, rest = data.parent / f"{data.name}-1", data.parent / f"{data.name}-2"
    for source in ("customer", "accelerometer", "step_trainer"):
        files = sorted((data / source).glob("*.json"))
        for target, chosen in ((first, files[:1]), (rest, files[1:])):
            (target / source).mkdir(parents=True, exist_ok=True)
            for file in chosen:
                (target / source / file.name).write_bytes(file.read_bytes())
    return first, rest


def lines_in(folder: Path) -> int:
    return sum(
        1 for p in folder.glob("*.json") for line in p.read_text().splitlines() if line.strip()
    )


def test_credentials_come_from_a_shared_profile_and_are_stored_nowhere(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str, tmp_path: Path, monkeypatch, caplog
):
    secret = "profile-secret-7c1e9a"
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = unused\naws_secret_access_key = unused\n"
        f"[stedi]\naws_access_key_id = stedi-key\naws_secret_access_key = {secret}\n"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "stedi")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    caplog.set_level("DEBUG", logger="lakehouse")
    config = s3_config(moto_endpoint, bucket)
    generate(tmp_path / "data", GenerateOptions(customers=8, readings_per_customer=2, files=1))

    with open_session(config) as session:
        upload_tree(tmp_path / "data", config.paths.landing)
        run_pipeline(session, config)
        tables = attach_warehouse(session, config.paths.warehouse)
        assert "ops.runs" in tables and session.table("gold.customer_curated").count() > 0
        for name in tables:
            frame = session.table(name)
            text = frame.selectExpr(*[f"CAST(`{c}` AS STRING)" for c in frame.columns]).collect()
            assert not any(secret in str(value) for row in text for value in row), name
    assert secret not in caplog.text


def test_land_command_uploads_new_files_once(
    moto_endpoint: str, bucket: str, tmp_path: Path, capsys
):  # type: ignore[no-untyped-def]
    generate(tmp_path, GenerateOptions(customers=5, readings_per_customer=2, files=1))
    count = len(list(tmp_path.glob("*/*.json")))
    overrides = ["storage=s3", f"storage.bucket={bucket}", f"storage.endpoint_url={moto_endpoint}"]
    assert main(["land", str(tmp_path), *overrides]) == 0
    assert (
        f"landed {count} files in s3://{bucket}/landing (0 already there" in capsys.readouterr().out
    )
    assert main(["land", str(tmp_path), f"s3://{bucket}/landing", *overrides]) == 0
    assert (
        f"landed 0 files in s3://{bucket}/landing ({count} already there" in capsys.readouterr().out
    )
    assert main(["land", str(tmp_path / "nope"), *overrides]) == 2

    # A wrong bucket stops a run before anything is written, saying what to check.
    wrong = ["storage=s3", "storage.bucket=no-such-bucket", f"storage.endpoint_url={moto_endpoint}"]
    assert main(["run", *wrong]) == 2
    error = capsys.readouterr().err
    assert "NoSuchBucket" in error and "Check storage.bucket" in error

    # `generate` writes sample data into an S3 landing zone the same way: written, then landed.
    other = ["storage=s3", f"storage.bucket={bucket}", f"storage.endpoint_url={moto_endpoint}"]
    other.append(f"paths.landing=s3://{bucket}/generated")
    assert main(["generate", "--customers", "5", "--files", "1", *other]) == 0
    with prepared_environment(s3_config(moto_endpoint, bucket)):
        assert subfolders(f"s3://{bucket}/generated") == [
            "accelerometer",
            "customer",
            "step_trainer",
        ]

"""The bronze job over real files: nothing lost, nothing aborted by one bad line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from bronze.job import bronze_file_count, ingested_file_row, sort_out
from lakehouse.app.cli import main
from lakehouse.app.pipeline import run_pipeline
from lakehouse.app.tables import TABLES
from lakehouse.core.aws import prepared_environment
from lakehouse.core.config import MaintenanceConfig
from lakehouse.core.delta_log import file_count, table_version
from lakehouse.core.landing import LandingFile, survey
from lakehouse.core.storage import s3_client
from tests.helpers import ROOT, layer_table_rows, rows, s3_config


def write(folder: Path, name: str, *lines: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n")


def test_landed_plus_quarantined_equals_lines_delivered(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    landing = Path(config.paths.landing)
    write(
        landing / "customer",
        "c.json",
        '{"customerName":"A B","email":"a@x","serialNumber":"s1","lastUpdateDate":5,'
        '"shareWithResearchAsOfDate":1}',
        '{"customerName":"C D","email":"c@x","serialNumber":"s2","lastUpdateDate":"soon"}',
        '{"customerName":"no email","serialNumber":"s3","lastUpdateDate":5}',
    )
    write(
        landing / "accelerometer",
        "a.json",
        '{"user":"a@x","timeStamp":10,"x":1,"y":2,"z":3}',
        "not json at all",
        '{"user":"a@x","timestamp":11,"x":1,"y":2,"z":3}',
    )
    write(landing / "step_trainer", "s.json", '{"sensorReadingTime":10,"serialNumber":"s1"}')
    (landing / "step_trainer" / "empty.json").write_text("")
    (landing / "step_trainer" / "windows.json").write_bytes(
        b'{"sensorReadingTime":10,"serialNumber":"s1","distanceFromObject":3}\r\n'
    )

    run_pipeline(spark, config, "bronze")

    assert spark.table("bronze.customer_landing").count() == 1
    assert spark.table("bronze.accelerometer_landing").count() == 2
    assert rows(spark.table("bronze.step_trainer_landing"), "distanceFromObject") == [(3,)]
    assert rows(spark.table("bronze.quarantine"), "source", "source_line", "reason") == [
        ("accelerometer", 2, "malformed JSON: Expecting value at column 1"),
        ("customer", 2, "'lastUpdateDate' is not a valid bigint"),
        ("customer", 3, "missing required field 'email'"),
        ("step_trainer", 1, "missing required field 'distanceFromObject'"),
    ]
    files = rows(spark.table("bronze.quarantine"), "source_file")
    assert files[0][0].endswith("accelerometer/a.json")
    lineage = rows(spark.table("bronze.accelerometer_landing"), "_source_line", "_ingestion_run_id")
    assert [line for line, _ in lineage] == [1, 3] and all(run for _, run in lineage)


def test_every_table_is_created_with_the_columns_its_ddl_declares(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    Path(config.paths.landing).mkdir(parents=True)
    run_pipeline(spark, config)
    for table in TABLES:
        created = [(name, kind.upper()) for name, kind in spark.table(table.qualified_name).dtypes]
        assert created == [(name, kind.upper()) for name, kind in table.columns], table


def landing_versions(config) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    return {
        name: table_version(f"{config.paths.warehouse}/bronze/{name}")
        for name in ("customer_landing", "accelerometer_landing", "quarantine")
    }


def test_each_file_is_ingested_once_whatever_its_timestamps(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    folder = Path(config.paths.landing, "accelerometer")
    write(folder, "b.json", '{"user":"a@x","timestamp":1,"x":1,"y":2,"z":3}')
    write(folder, "only-bad.json", "garbage")
    run_pipeline(spark, config, "bronze")
    first = landing_versions(config)

    # Re-delivered with the same content (a new copy, a new modification time): nothing new.
    os.utime(folder / "b.json", (1e9, 1e9))
    run_pipeline(spark, config, "bronze")
    assert landing_versions(config) == first

    # A new file stamped years ago is still new.
    write(folder, "a.json", '{"user":"a@x","timestamp":2,"x":1,"y":2,"z":3}')
    os.utime(folder / "a.json", (1e9, 1e9))
    run_pipeline(spark, config, "bronze")
    assert rows(spark.table("bronze.accelerometer_landing"), "timestamp") == [(1,), (2,)]
    assert spark.table("bronze.quarantine").count() == 1
    ingested = rows(spark.table("bronze.ingested_files"), "file")
    assert [Path(f).name for (f,) in ingested] == ["a.json", "b.json", "only-bad.json"]


def test_new_content_under_a_known_name_is_a_new_delivery(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    folder = Path(config.paths.landing, "customer")
    old = '{"customerName":"A","email":"a@x","serialNumber":"s1","lastUpdateDate":5}'
    new = (
        '{"customerName":"A","email":"a@x","serialNumber":"s1","lastUpdateDate":9,'
        '"shareWithResearchAsOfDate":7}'
    )
    write(folder, "c.json", old)
    run_pipeline(spark, config)
    assert spark.table("silver.customer_trusted").count() == 0

    write(folder, "c.json", old, new)
    run_pipeline(spark, config)

    landed = rows(spark.table("bronze.customer_landing"), "_source_line", "lastUpdateDate")
    assert landed == [(1, 5), (1, 5), (2, 9)]  # both deliveries kept, each with its checksum
    assert spark.table("bronze.customer_landing").select("_source_checksum").distinct().count() == 2
    assert rows(spark.table("silver.customer_trusted"), "email", "lastUpdateDate") == [("a@x", 9)]


def test_bronze_file_count_follows_the_landed_size() -> None:
    mib = 1024 * 1024
    files = [LandingFile(f"f{i}.json", 300 * mib, 0) for i in range(5)]  # 1500 MiB in all
    assert bronze_file_count(files, MaintenanceConfig(landing_mb_per_bronze_file=512)) == 3
    assert bronze_file_count(files, MaintenanceConfig(landing_mb_per_bronze_file=10_000)) == 1
    # Never more files than were landed, and 0 keeps one per landing file.
    assert bronze_file_count(files, MaintenanceConfig(landing_mb_per_bronze_file=1)) == 5
    assert bronze_file_count(files, MaintenanceConfig(landing_mb_per_bronze_file=0)) == 5
    assert bronze_file_count([], MaintenanceConfig()) == 1


def test_many_small_deliveries_become_one_bronze_file_and_no_scratch_copy_stays(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config
):
    config = make_config()
    landing = Path(config.paths.landing)
    for number in range(6):
        write(
            landing / "step_trainer",
            f"s{number}.json",
            *[
                f'{{"sensorReadingTime":{number * 100 + i},"serialNumber":"s1",'
                f'"distanceFromObject":{i}}}'
                for i in range(50)
            ],
            "broken {",
        )

    run_pipeline(spark, config, "bronze.step_trainer_landing")

    location = Path(config.paths.warehouse) / "bronze" / "step_trainer_landing"
    assert spark.table("bronze.step_trainer_landing").count() == 300
    assert spark.table("bronze.quarantine").count() == 6
    assert file_count(str(location)) == 1
    assert not (Path(config.paths.warehouse) / "_staging").exists() or not any(
        (Path(config.paths.warehouse) / "_staging").iterdir()
    )


def test_scratch_copies_a_killed_run_left_are_gone_when_the_next_run_starts(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config
):
    config = make_config()
    Path(config.paths.landing).mkdir(parents=True)
    left = Path(config.paths.warehouse) / "_staging" / "landing.customer" / "part-00000.parquet"
    left.parent.mkdir(parents=True)
    left.write_text('{"email":"left.behind@x.com"}')

    run_pipeline(spark, config, "bronze")

    staging = Path(config.paths.warehouse) / "_staging"
    assert not staging.exists() or not any(staging.rglob("*"))


@pytest.mark.slow
def test_a_backlog_of_a_thousand_files_lands_in_one_run(tmp_path: Path) -> None:
    """Seven weeks of hourly files at once (a new warehouse, a restored bronze, an outage).

    In its own process: reading them once crashed the engine (a union of one read per file,
    planned recursively, overflowed its stack at about 300 files), which would end the suite.
    """
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    write(
        landing / "customer",
        "c.json",
        '{"customerName":"A B","email":"a@x","serialNumber":"s1","lastUpdateDate":5,'
        '"shareWithResearchAsOfDate":1}',
    )
    hours = 1200
    for hour in range(hours):
        reading = f'{{"user":"a@x","timestamp":{1000 + hour},"x":1,"y":2,"z":3}}'
        write(landing / "accelerometer", f"a-{hour:05d}.json", reading)
        step = f'{{"sensorReadingTime":{1000 + hour},"serialNumber":"s1","distanceFromObject":1}}'
        write(landing / "step_trainer", f"s-{hour:05d}.json", step)
    paths = [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse", "run", *paths],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for table in ("bronze/accelerometer_landing", "bronze/step_trainer_landing"):
        landed = DeltaTable(str(warehouse / table)).get_add_actions(flatten=True)
        assert sum(landed.column("num_records").to_pylist()) == hours, table
    curated = DeltaTable(str(warehouse / "gold/machine_learning_curated"))
    assert sum(curated.get_add_actions(flatten=True).column("num_records").to_pylist()) == hours


@pytest.mark.slow
def test_an_object_overwritten_within_the_second_it_was_listed_is_read(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str
) -> None:
    """S3 times have whole seconds: the same size at the same second is not the same content."""
    config = s3_config(moto_endpoint, bucket)
    key = "landing/customer/c.json"
    run = SimpleNamespace(
        batches=SimpleNamespace(current=1), run_id="r1", started_at=datetime.now(UTC)
    )
    with prepared_environment(config):
        client = s3_client()
        for _ in range(5):  # until both writes fall within one second of S3's clock
            client.put_object(Bucket=bucket, Key=key, Body=b'{"email": "a@x"}\n')
            listed = survey(config.paths.landing, "customer").files
            new, _ = sort_out(listed, {})  # the run reads and records the first content
            rows_ = [ingested_file_row(run, "customer", file) for file in new]  # type: ignore[arg-type]
            known = {(str(row["file"]), str(row["checksum"])): row for row in rows_}
            client.put_object(Bucket=bucket, Key=key, Body=b'{"email": "b@x"}\n')
            again = survey(config.paths.landing, "customer").files
            if again[0].modified_ns == listed[0].modified_ns:
                break
        assert again[0].size == listed[0].size and again[0].modified_ns == listed[0].modified_ns
        changed, seen_again = sort_out(again, known)
    assert [file.checksum for file in changed] != [file.checksum for file in new]
    assert len(changed) == 1 and not seen_again


@pytest.mark.slow  # three runs
def test_a_moved_landing_zone_is_not_ingested_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = f"paths.warehouse={tmp_path / 'wh'}"
    first, moved = tmp_path / "landing", tmp_path / "moved" / "landing"
    sample = ["--customers", "6", "--readings-per-customer", "3", "--files", "2"]
    assert main(["generate", *sample, f"paths.landing={first}", wh]) == 0
    assert main(["run", f"paths.landing={first}", wh]) == 0
    bronze = layer_table_rows(tmp_path / "wh")
    moved.parent.mkdir()
    shutil.move(first, moved)  # a new mount point, bucket or prefix
    capsys.readouterr()

    assert main(["run", "--format", "json", f"paths.landing={moved}", wh]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["up_to_date"], report["tables"]
    assert layer_table_rows(tmp_path / "wh") == bronze  # bronze did not double

    # Known content under a new name is still a new delivery, as before the move.
    original = sorted((moved / "customer").glob("*.json"))[0]
    shutil.copy(original, moved / "customer" / "delivered-again.json")
    assert main(["run", "--format", "json", f"paths.landing={moved}", wh]) == 0
    tables = {t["table"]: t for t in json.loads(capsys.readouterr().out)["tables"]}
    delivered = len(original.read_text().splitlines())
    assert tables["bronze.customer_landing"]["inserted"] == delivered

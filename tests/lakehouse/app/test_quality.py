"""Data-quality rules in runs, `lakehouse test`, `lakehouse status`, selectors and the
scripting options of the command line, on the hand-written customers A and B."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.pipeline import RulesFailed, full_refresh_tables, run_pipeline, select_jobs
from lakehouse.core.config import Config, ConfigError
from lakehouse.core.delta_log import table_version
from tests.helpers import customer, land, land_a_and_b, traces_of, versions

SALT = "tests-only-salt"


def rules_dir(tmp_path: Path, table: str, text: str) -> str:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / f"{table}.rules.yaml").write_text(text)
    return f"quality.rules_dir={folder}"


def cli(config: Config, *args: str) -> int:
    paths = [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]
    return main([*args, *paths, f"quality.rules_dir={config.quality.rules_dir}"])


def test_a_failing_rule_stops_its_table_and_what_is_built_from_it(
    spark: SparkSession,
    make_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    small_x = "rules:\n  - {name: small_x, range: {column: x, max: 2}, action: fail}\n"
    config = make_config(rules_dir(tmp_path, "silver.accelerometer_trusted", small_x))
    land_a_and_b(config)  # A's reading at 2500 has x = 2.5
    with pytest.raises(RulesFailed, match="rule small_x") as stopped:
        run_pipeline(spark, config)
    built = versions(config)
    assert built["silver.customer_trusted"] == 1  # upstream and independent: built
    assert built["bronze.step_trainer_landing"] == 1
    for name in (
        "silver.accelerometer_trusted",
        "silver.step_trainer_trusted",
        "gold.customer_curated",
        "gold.machine_learning_curated",
    ):
        assert not built[name], name  # never committed (created empty at most)
    notes = [n for r in stopped.value.results for n in r.notes]
    assert any("gold.machine_learning_curated skipped" in n for n in notes)
    runs = spark.table("ops.runs").where(F.col("run_id") == stopped.value.run_id)
    assert runs.first()["status"] == "failed"  # type: ignore[index]
    results = spark.table("ops.rule_results").where(F.col("rule") == "small_x").collect()
    assert [(r.table_name, r.rows_failing, r.outcome) for r in results] == [
        ("silver.accelerometer_trusted", 1, "failed")
    ]
    # The rule fixed, the next run builds everything.
    relaxed = make_config()
    run_pipeline(spark, relaxed)
    assert all(
        versions(relaxed)[name]
        for name in ("silver.accelerometer_trusted", "gold.machine_learning_curated")
    )


@pytest.mark.slow  # several runs
def test_a_drop_rule_quarantines_rows_relaxing_it_brings_them_back_and_erasure_finds_them(
    spark: SparkSession,
    make_config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    near = "rules:\n  - {name: near, range: {column: distanceFromObject, max: 20}, action: drop}\n"
    config = make_config(rules_dir(tmp_path, "silver.step_trainer_trusted", near))
    land_a_and_b(config)
    run_pipeline(spark, config)
    steps = [r.sensorReadingTime for r in spark.table("silver.step_trainer_trusted").collect()]
    assert sorted(steps) == [1500]  # 2500 (distance 25) dropped
    dropped = spark.table("bronze.quarantine").where(
        F.col("source") == "silver.step_trainer_trusted"
    )
    (row,) = dropped.collect()
    assert row.reason == "rule near: distanceFromObject <= 20"
    assert json.loads(row.raw)["sensorReadingTime"] == 2500
    ml = [r.sensorReadingTime for r in spark.table("gold.machine_learning_curated").collect()]
    assert sorted(ml) == [1500]
    before = versions(config)
    run_pipeline(spark, config)  # nothing new: nothing written again
    assert versions(config) == before
    # Without the rule the tables are rebuilt (drop rules shape content) and 2500 is back.
    relaxed = make_config()
    run_pipeline(spark, relaxed)
    steps = [r.sensorReadingTime for r in spark.table("silver.step_trainer_trusted").collect()]
    assert sorted(steps) == [1500, 2500]
    # ... and it leaves the quarantine: `lakehouse quarantine` no longer lists it as dropped.
    paths = [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]
    capsys.readouterr()
    assert main(["quarantine", "--format", "json", *paths]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row for row in listed if row["source"] == "silver.step_trainer_trusted"] == []
    before = versions(config)
    run_pipeline(spark, relaxed)  # and the next run changes nothing
    assert versions(config) == before
    # Erasing A also removes the row the rule dropped (a step reading names no one: its moment).
    assert (
        main(
            [
                "erase",
                "--email",
                "a@x",
                "--retain-hours",
                "0",
                f"paths.landing={config.paths.landing}",
                f"paths.warehouse={config.paths.warehouse}",
            ]
        )
        == 0
    )
    assert spark.table("bronze.quarantine").where(F.col("source") != "customer").count() == 0
    assert not traces_of(Path(config.paths.warehouse), [customer_key(SALT, "a@x")])


def test_table_rules_judge_the_table_before_the_commit_with_run_test_and_lakehouse_test(
    spark: SparkSession,
    make_config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    one_per_serial = "rules:\n  - {name: one_per_serial, unique: [serialNumber], action: fail}\n"
    config = make_config(rules_dir(tmp_path, "silver.customer_trusted", one_per_serial))
    land_a_and_b(config)
    land(config, "customer", "c2.json", customer("c@x", 100, 1000))  # C shares serial S with A
    assert cli(config, "run", "+silver.customer_trusted") == 0  # table rules not judged
    capsys.readouterr()
    land(config, "customer", "c3.json", customer("d@x", 100, 1000))
    assert cli(config, "run", "--test", "+silver.customer_trusted", "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "failed"
    failed = [r for r in report["rules"] if r["outcome"] == "failed"]
    assert [(r["table"], r["rule"], r["failing"]) for r in failed] == [
        ("silver.customer_trusted", "one_per_serial", 3)  # A, C, D would share S
    ]
    location = f"{config.paths.warehouse}/silver/customer_trusted"
    assert spark.read.format("delta").load(location).count() == 2  # D's version never committed
    assert table_version(location) == 1
    # `lakehouse test` judges the table as it is: A and C already share S.
    assert cli(config, "test", "silver.customer_trusted", "--format", "json") == 1
    tested = json.loads(capsys.readouterr().out)
    assert tested["passed"] is False
    assert {r["rule"]: r["failing"] for r in tested["rules"]} == {"one_per_serial": 2}
    assert cli(config, "test", "silver.customer_trusted") == 1
    assert "FAILED: silver.customer_trusted.one_per_serial" in capsys.readouterr().out
    # As of the first run's version 0 (empty): nothing to fail.
    assert cli(config, "test", "silver.customer_trusted", "--as-of", "0") == 0


def test_status_reports_sources_and_tables_and_exits_1_on_a_stale_source(
    spark: SparkSession,
    make_config,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)
    land(config, "customer", "c2.json", customer("c@x", 100, 1000))
    old = time.time() - 3 * 3600
    for file in Path(config.paths.landing, "step_trainer").iterdir():
        os.utime(file, (old, old))
    paths = [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]
    capsys.readouterr()
    assert main(["status", "--format", "json", *paths]) == 0  # no limit configured
    report = json.loads(capsys.readouterr().out)
    sources = {s["source"]: s for s in report["sources"]}
    assert (sources["customer"]["files"], sources["customer"]["to_read"]) == (2, 1)
    assert sources["customer"]["newest_file"] == "c2.json"
    assert sources["step_trainer"]["to_read"] == 1  # touched since ingested: it is looked at
    assert sources["step_trainer"]["last_ingested_at"].endswith("+00:00")
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["silver.customer_trusted"]["rows"] == 1
    assert tables["silver.customer_trusted"]["last_run"]
    assert main(["status", "--format", "json", "quality.max_source_age_hours=2", *paths]) == 1
    assert json.loads(capsys.readouterr().out)["stale_sources"] == ["step_trainer"]
    assert main(["status", "quality.max_source_age_hours=4", *paths]) == 0
    assert "every source has a file newer than 4h" in capsys.readouterr().out


def test_selectors_follow_the_tables_dependencies() -> None:
    def names(target: str) -> list[str]:
        return [job.table for job in select_jobs(target)]

    assert names("+silver.customer_trusted") == [
        "bronze.customer_landing",
        "silver.customer_trusted",
    ]
    assert names("silver.step_trainer_trusted+") == [
        "silver.step_trainer_trusted",
        "gold.machine_learning_curated",
    ]
    upstream = names("+gold.customer_curated")
    assert "bronze.step_trainer_landing" not in upstream
    assert upstream[-1] == "gold.customer_curated" and "silver.accelerometer_trusted" in upstream
    assert names("bronze+") == names("all")
    # Every job's upstream runs before it.
    order = names("all")
    for job in select_jobs("all"):
        assert all(order.index(parent) < order.index(job.table) for parent in job.upstream)
    with pytest.raises(ConfigError, match="nothing to run named 'platinum'"):
        select_jobs("+platinum")
    assert full_refresh_tables("all") == set(names("silver") + names("gold"))
    with pytest.raises(ConfigError, match="bronze keeps every landed line"):
        full_refresh_tables("bronze")


@pytest.mark.slow  # several runs
def test_full_refresh_rebuilds_up_to_date_says_so_and_quiet_is_quiet(
    spark: SparkSession,
    make_config,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    config = make_config()
    land_a_and_b(config)
    paths = [f"paths.landing={config.paths.landing}", f"paths.warehouse={config.paths.warehouse}"]
    assert main(["run", *paths]) == 0
    capsys.readouterr()
    assert main(["run", "--quiet", *paths]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("up to date: nothing new") and len(out.splitlines()) == 1
    assert err == ""
    before = versions(config)
    assert main(["run", "--full-refresh", "gold.customer_curated", "--format", "json", *paths]) == 0
    report = json.loads(capsys.readouterr().out)
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["gold.customer_curated"]["read"] == 1  # rebuilt from silver
    assert tables["silver.customer_trusted"]["read"] == 0
    # Identical content: the MERGE writes no version, whatever it rebuilt.
    assert versions(config)["gold.customer_curated"] == before["gold.customer_curated"]
    # `+table` is a target, not an override.
    assert main(["run", "+silver.customer_trusted", "-q", *paths]) == 0
    assert main(["runs", "--format", "json", "--limit", "1", *paths]) == 0
    (newest,) = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert newest["target"] == "+silver.customer_trusted"
    assert newest["started_at"].endswith("+00:00")


def test_help_shows_defaults_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["vacuum", "--help"])
    text = capsys.readouterr().out
    assert "(default: 168)" in text
    assert "example:\n  lakehouse vacuum" in text


def test_a_misspelt_or_non_utf8_rules_file_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "landing").mkdir()
    misspelt = folder / "silver.custmer_trusted.rules.yaml"
    misspelt.write_text("rules:\n  - {name: one, unique: [email], action: fail}\n")
    paths = [
        f"paths.landing={tmp_path / 'landing'}",
        f"paths.warehouse={tmp_path / 'wh'}",
        f"quality.rules_dir={folder}",
    ]
    for command in (["run"], ["test"]):
        assert main([*command, *paths]) == 2, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"{misspelt} names no table" in err
        assert "silver.customer_trusted," in err and "gold.machine_learning_curated" in err
    assert not (tmp_path / "wh").exists()

    misspelt.unlink()
    (folder / "silver.customer_trusted.rules.yaml").write_bytes(
        b"rules:\n  - {name: caf\xe9, unique: [email], action: fail}\n"  # Latin-1, not UTF-8
    )
    assert main(["test", *paths]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "silver.customer_trusted.rules.yaml: not UTF-8 text" in err

"""As-of queries, diffs, restore then run, and vacuum, after a known sequence of runs."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.delta_log import DeltalakeLog, table_version
from lakehouse.core.timetravel import (
    AsOfError,
    diff_versions,
    read_as_of,
    resolve_as_of,
    rewrite_query,
    table_references,
)
from tests.helpers import (
    customer,
    held,
    land,
    land_a_and_b,
    overrides,
    reading,
    rows,
    run_then_withdraw_a,
    step,
    traces_of,
    withdraw_a,
)
from tests.soak import age_logs

pytestmark = pytest.mark.slow

KNOWN = ["silver.customer_trusted", "gold.customer_curated", "ops.runs"]


def test_table_references_are_found_by_parsing_not_by_pattern() -> None:
    query = (
        "-- gold.customer_curated in a comment\n"
        "SELECT 'see gold.customer_curated' AS note, `silver`.`customer_trusted`.email\n"
        "FROM Silver.Customer_Trusted t JOIN gold.customer_curated VERSION AS OF 2 g\n"
        "  ON t.email = g.email WHERE t.email IN (SELECT email FROM ops.runs)"
    )
    found = table_references(query, KNOWN)
    assert [name for name, _ in found] == ["silver.customer_trusted", "ops.runs"]
    for name, end in found:
        assert query[:end].lower().endswith(name.split(".")[1])
    with pytest.raises(AsOfError, match="does not parse"):
        table_references("SELECT FROM WHERE (", KNOWN)


def test_as_of_reads_and_diffs_return_exactly_the_earlier_contents(
    spark: SparkSession, make_config, capsys
):  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    first, _ = run_pipeline(spark, config)
    before = rows(spark.table("silver.accelerometer_trusted"))
    withdraw_a(config)
    second, _ = run_pipeline(spark, config)
    assert rows(spark.table("silver.accelerometer_trusted")) == []

    for point in ("1", first):
        as_of = resolve_as_of(spark, config.paths.warehouse, point)
        query = rewrite_query(
            "SELECT * FROM silver.accelerometer_trusted",
            config.paths.warehouse,
            ["silver.accelerometer_trusted"],
            as_of,
        )
        assert rows(spark.sql(query)) == before
    with pytest.raises(AsOfError):
        resolve_as_of(spark, config.paths.warehouse, "no-such-run")

    diff = diff_versions(
        spark,
        config.paths.warehouse,
        "silver.accelerometer_trusted",
        resolve_as_of(spark, config.paths.warehouse, first),
        resolve_as_of(spark, config.paths.warehouse, second),
    )
    assert diff.added.count() == 0 and rows(diff.removed) == before

    assert (
        main(
            [
                "sql",
                "SELECT count(*) AS n FROM gold.customer_curated",
                "--as-of",
                first,
                "--format",
                "csv",
                *overrides(config),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["n", "1"]
    assert main(["diff", "gold.machine_learning_curated", "1", "2", *overrides(config)]) == 0
    out = capsys.readouterr().out
    assert "added: 0 rows" in out and "removed: 2 rows" in out


def test_restore_then_run_brings_the_table_forward(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    run_then_withdraw_a(spark, config)
    after_withdrawal = held(spark)

    assert main(["restore", "silver.accelerometer_trusted", "1", *overrides(config)]) == 0
    assert "restored to version 1 as version 3" in capsys.readouterr().out
    assert rows(spark.table("silver.accelerometer_trusted"), "user") == [("a@x",), ("a@x",)]
    assert main(["restore", "bronze.customer_landing", "1", *overrides(config)]) == 0
    assert main(["restore", "bronze.customer_landing", "99", *overrides(config)]) == 1

    run_pipeline(spark, config)
    assert held(spark) == after_withdrawal
    assert rows(spark.table("bronze.customer_landing"), "email", "lastUpdateDate") == [
        ("a@x", 100),
        ("a@x", 200),
        ("b@x", 100),
    ]
    commands = rows(spark.table("ops.runs"), "command", "status")
    assert commands.count(("restore", "succeeded")) == 2 and ("restore", "failed") in commands


def test_vacuum_reports_what_it_deleted(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    run_then_withdraw_a(spark, config)
    assert main(["vacuum", "--retain-hours", "0", *overrides(config)]) == 0
    out = capsys.readouterr().out
    assert "silver.accelerometer_trusted" in out and "time travel now reaches back 0 hours" in out
    assert rows(spark.table("silver.accelerometer_trusted")) == []


def delta_log_files(config, table: str, suffix: str) -> list[Path]:  # type: ignore[no-untyped-def]
    schema, name = table.split(".")
    return sorted(Path(config.paths.warehouse, schema, name, "_delta_log").glob(f"*{suffix}"))


def test_every_version_reads_after_many_runs_and_checkpoints(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """Fifteen runs: each table passes Delta checkpoints, and every version still reads."""
    config = make_config()
    land_a_and_b(config)
    table = "silver.accelerometer_trusted"
    runs: list[tuple[str, list[tuple[object, ...]], int]] = []
    by_version: dict[int, list[tuple[object, ...]]] = {}
    for day in range(15):
        if day:
            at = 3000 + day
            land(config, "accelerometer", f"a-day{day:02d}.json", reading("a@x", at))
            land(config, "step_trainer", f"s-day{day:02d}.json", step(at))
        if day == 7:  # B consents: more rows in every table at once
            land(config, "customer", "c-b.json", customer("b@x", 300, 1000))
        run_id, _ = run_pipeline(spark, config)
        held_now = rows(spark.table(table))
        version = int(
            spark.sql(
                f"SELECT max(version_after) FROM ops.run_tables WHERE table_name = '{table}'"
            ).first()[0]
        )
        runs.append((run_id, held_now, spark.table("gold.machine_learning_curated").count()))
        by_version[version] = held_now

    # The history is long enough to test what it must: checkpoints below most versions.
    assert len(delta_log_files(config, table, ".checkpoint.parquet")) >= 1
    assert len(delta_log_files(config, "ops.runs", ".checkpoint.parquet")) >= 2

    # Every version, read with plain SQL as a notebook would (no help from the lakehouse).
    for version, expected in by_version.items():
        assert rows(spark.sql(f"SELECT * FROM {table} VERSION AS OF {version}")) == expected
    runs_versions = len(delta_log_files(config, "ops.runs", ".json"))
    counts = [
        spark.sql(f"SELECT count(*) FROM ops.runs VERSION AS OF {v}").first()[0]
        for v in range(runs_versions)
    ]
    assert counts == sorted(counts) and counts[-1] == 15
    assert not delta_log_files(config, table, "_last_checkpoint")  # how: the hint is dropped

    # Every run, as of its end: each table at its own version then.
    for run_id, expected, ml_rows in runs:
        as_of = resolve_as_of(spark, config.paths.warehouse, run_id)
        assert rows(read_as_of(spark, config.paths.warehouse, table, as_of)) == expected
        ml = read_as_of(spark, config.paths.warehouse, "gold.machine_learning_curated", as_of)
        assert ml.count() == ml_rows
    for run_id, _, ml_rows in (runs[2], runs[8]):
        query = (
            "SELECT count(*) AS n, 'gold.machine_learning_curated' AS literal "
            "FROM gold.machine_learning_curated g JOIN silver.customer_trusted c "
            "ON g.customer_key IS NOT NULL AND c.email = 'a@x'"
        )
        assert main(["sql", query, "--as-of", run_id, "--format", "csv", *overrides(config)]) == 0
        assert capsys.readouterr().out.splitlines()[1] == f"{ml_rows},gold.machine_learning_curated"

    # A bare version is one table's: refused where a query reads several.
    capsys.readouterr()
    assert main(["sql", query, "--as-of", "3", *overrides(config)]) == 1
    assert "a version number is one table's version" in capsys.readouterr().err

    # Log retention: versions below the oldest checkpoint kept are gone, with a sentence.
    spark.sql(
        f"ALTER TABLE {table} SET TBLPROPERTIES "
        "('delta.logRetentionDuration' = 'interval 0 seconds')"
    )
    assert main(["vacuum", "--retain-hours", "1000", *overrides(config)]) == 0
    capsys.readouterr()
    oldest = min(by_version)
    with pytest.raises(AsOfError, match="log entries were cleaned"):
        read_as_of(spark, config.paths.warehouse, table, resolve_as_of(spark, "", str(oldest)))
    newest = max(by_version)
    kept = read_as_of(spark, config.paths.warehouse, table, resolve_as_of(spark, "", str(newest)))
    assert rows(kept) == by_version[newest]


def test_vacuumed_versions_get_a_sentence_not_an_engine_error(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    config = make_config()
    land_a_and_b(config)
    first, _ = run_pipeline(spark, config)
    withdraw_a(config)
    run_pipeline(spark, config)
    query = "SELECT * FROM silver.accelerometer_trusted"
    assert main(["sql", query, "--as-of", first, *overrides(config)]) == 0
    assert main(["vacuum", "--retain-hours", "0", *overrides(config)]) == 0
    capsys.readouterr()
    assert main(["sql", query, "--as-of", first, *overrides(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no longer retained" in err and "vacuum" in err
    assert main(["diff", "silver.accelerometer_trusted", first, "2", *overrides(config)]) == 1
    assert "no longer retained" in capsys.readouterr().err
    assert main(["sql", query, "--as-of", "99", *overrides(config)]) == 1
    assert "has versions up to" in capsys.readouterr().err


def test_a_withdrawn_customer_s_readings_leave_the_files_at_vacuum(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """With deletion vectors on, the withdrawal marks a@x's readings deleted: the file that
    holds them stays in the current version until vacuum rewrites the table, then goes."""
    config = make_config("tables.deletion_vectors=true")
    run_then_withdraw_a(spark, config)
    table = Path(config.paths.warehouse, "silver", "accelerometer_trusted")
    assert rows(spark.table("silver.accelerometer_trusted"), "user") == []  # a@x gone, b@x never
    assert traces_of(table, ["a@x"]), "the deletion rewrote the file: no deletion vector?"
    assert main(["vacuum", "--retain-hours", "0", *overrides(config)]) == 0
    capsys.readouterr()
    assert traces_of(table, ["a@x"]) == []
    assert rows(spark.table("silver.accelerometer_trusted"), "user") == []


def test_maintenance_commits_keep_checkpoints_coming(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    """Restores, vacuums and compactions commit through deltalake, which writes no checkpoint:
    the lakehouse writes one where the engine would have, and every version stays readable."""
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)
    location = str(Path(config.paths.warehouse, "silver", "customer_trusted"))
    for restore in range(10):  # versions 2 to 11: back to empty, then to A, and so on
        DeltalakeLog().restore(location, restore % 2)
    checkpoints = delta_log_files(config, "silver.customer_trusted", ".checkpoint.parquet")
    assert [path.name.split(".")[0] for path in checkpoints] == [f"{10:020d}"]
    assert not delta_log_files(config, "silver.customer_trusted", "_last_checkpoint")
    counts = [
        spark.sql(f"SELECT * FROM silver.customer_trusted VERSION AS OF {v}").count()
        for v in range(12)
    ]
    assert counts == [0, 1] * 6


def test_scheduled_runs_keep_the_log_within_its_retention(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """Log entries older than the retention go at a checkpoint, as delta-spark's do: all those
    before the newest checkpoint that is itself that old (every later version still needs it)."""
    config = make_config()
    land_a_and_b(config)
    first, _ = run_pipeline(spark, config)
    day = 0
    while table_version_of(config, "ops.runs") < 11:  # two run-log commits a run: checkpoint 10
        day += 1
        land(config, "accelerometer", f"a-day{day}.json", reading("a@x", 3000 + day))
        run_pipeline(spark, config)
    # Five weeks pass (a log retention is 30 days by default): the log so far is old.
    age_logs(Path(config.paths.warehouse), days=35)
    before_aging = table_version_of(config, "ops.runs")
    counts = {}
    while table_version_of(config, "ops.runs") < 21:  # the next checkpoint: 20
        day += 1
        land(config, "accelerometer", f"a-day{day}.json", reading("a@x", 3000 + day))
        run_pipeline(spark, config)
        counts[table_version_of(config, "ops.runs")] = spark.table("ops.runs").count()

    versions = sorted(int(path.name[:20]) for path in delta_log_files(config, "ops.runs", ".json"))
    assert versions == list(range(10, versions[-1] + 1)), "gone below checkpoint 10, not above"
    assert before_aging > 10, "old commits after the checkpoint are kept: later versions use them"
    checksums = [int(p.name[:20]) for p in delta_log_files(config, "ops.runs", ".crc")]
    assert min(checksums) == 10, "the engine's checksum files go with their commits"
    # Every version kept reads with plain SQL, those written since as they were then.
    read = {
        v: spark.sql(f"SELECT count(*) FROM ops.runs VERSION AS OF {v}").first()[0]
        for v in versions
    }
    assert all(read[v] == count for v, count in counts.items()), (read, counts)
    assert list(read.values()) == sorted(read.values()) and read[10] > 0
    # The first run's versions are past the retention: a sentence, not an engine error.
    query = "SELECT * FROM ops.runs"
    capsys.readouterr()
    assert main(["sql", query, "--as-of", first, *overrides(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no longer retained" in err, err


def test_maintenance_commits_keep_the_log_within_its_retention(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    """Commits made with deltalake (restores here) expire old log entries at their checkpoints
    too, as the engine's own commits do."""
    config = make_config()
    land_a_and_b(config)
    run_pipeline(spark, config)
    table = "silver.customer_trusted"
    location = str(Path(config.paths.warehouse, "silver", "customer_trusted"))
    for restore in range(10):  # versions 2 to 11, checkpoint 10
        DeltalakeLog().restore(location, restore % 2)
    age_logs(Path(config.paths.warehouse), days=35)
    for restore in range(10):  # versions 12 to 21, checkpoint 20
        DeltalakeLog().restore(location, 10 + restore % 2)
    versions = sorted(int(path.name[:20]) for path in delta_log_files(config, table, ".json"))
    assert versions == list(range(10, 22))
    assert all(int(p.name[:20]) >= 10 for p in delta_log_files(config, table, ".crc"))
    counts = [spark.sql(f"SELECT * FROM {table} VERSION AS OF {v}").count() for v in versions]
    assert counts == [0, 1] * 6


def test_a_week_on_the_soak_clock_expires_tombstones_as_a_real_week_would(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The soak moves the warehouse's clock with `age_logs`: replaced files' tombstones age
    with it (commits and checkpoints alike), so the engine's next checkpoint drops the ones
    past `delta.deletedFileRetentionDuration` (7 days) and keeps the fresh ones."""
    location = tmp_path / "warehouse" / "s" / "t"
    log = location / "_delta_log"
    spark.range(0, 100).write.format("delta").save(str(location))

    def replace_a_file(row: int) -> None:  # a MERGE that deletes rewrites a file: a tombstone
        spark.createDataFrame([(row,)], "id long").write.format("delta").mode("append").save(
            str(location)
        )
        spark.sql(
            f"MERGE INTO delta.`{location}` t USING (SELECT {row} AS id) s ON t.id = s.id "
            "WHEN MATCHED THEN DELETE"
        )

    for row in range(1000, 1006):  # versions 1-12: checkpoint 10 holds tombstones
        replace_a_file(row)
    old = {r["path"] for r in checkpoint_removes(log / f"{10:020d}.checkpoint.parquet")}
    assert old, "a checkpoint keeps the week's tombstones"

    age_logs(tmp_path / "warehouse", days=8)
    week_ago_ms = (time.time() - 7 * 86_400) * 1000
    aged = checkpoint_removes(log / f"{10:020d}.checkpoint.parquet")
    assert {r["path"] for r in aged} == old and all(
        r["deletionTimestamp"] < week_ago_ms for r in aged
    )
    replace_a_file(2000)  # versions 13-14: fresh tombstones
    appended = 0
    while table_version(str(location)) < 20 and appended < 10:  # the next checkpoint: 20
        appended += 1
        spark.range(5000 + appended, 5001 + appended).write.format("delta").mode("append").save(
            str(location)
        )
    kept = {r["path"] for r in checkpoint_removes(log / f"{20:020d}.checkpoint.parquet")}
    assert kept and not kept & old, (kept, old)
    assert spark.read.format("delta").load(str(location)).count() == 100 + appended


def checkpoint_removes(checkpoint: Path) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in pq.read_table(checkpoint).column("remove").to_pylist() if r]


def table_version_of(config, table: str) -> int:  # type: ignore[no-untyped-def]
    schema, name = table.split(".")
    version = table_version(str(Path(config.paths.warehouse, schema, name)))
    assert version is not None
    return version

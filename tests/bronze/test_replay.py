"""Quarantine replay: lines today's parser reads move into bronze once, and reach silver."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bronze.replay import replay_quarantine
from lakehouse.app.cli import main
from lakehouse.app.pipeline import operation, run_pipeline
from lakehouse.core.delta_log import table_version

pytestmark = pytest.mark.slow

CUSTOMER = (
    '{"customerName":"A B","email":"a@x.com","serialNumber":"s1","lastUpdateDate":5,'
    '"registrationDate":1,"shareWithResearchAsOfDate":1}'
)
READING = '{"user":"a@x.com","timestamp":100,"x":1,"y":2,"z":3}'


def quarantine_as_an_old_parser_did(spark: SparkSession, raw: str, line: int) -> None:
    """A line an earlier version quarantined although today's rules read it."""
    row = spark.table("bronze.quarantine").where(F.col("source") == "accelerometer").first()
    assert row is not None
    old = spark.createDataFrame(
        [{**row.asDict(), "source_line": line, "raw": raw, "reason": "malformed JSON"}],
        spark.table("bronze.quarantine").schema,
    )
    old.write.format("delta").mode("append").saveAsTable("bronze.quarantine")


def test_replay_moves_what_parses_now_once_and_silver_picks_it_up(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys: pytest.CaptureFixture[str]
):
    config = make_config()
    landing = Path(config.paths.landing)
    (landing / "customer").mkdir(parents=True)
    (landing / "customer" / "c.json").write_text(CUSTOMER + "\n")
    (landing / "accelerometer").mkdir()
    (landing / "accelerometer" / "a.json").write_text("garbage\n")
    (landing / "step_trainer").mkdir()
    run_pipeline(spark, config)
    quarantine_as_an_old_parser_did(spark, READING + ",", line=2)
    assert spark.table("silver.accelerometer_trusted").count() == 0

    with operation(spark, config, "quarantine replay", "bronze.quarantine") as (ctx, results):
        results.extend(replay_quarantine(ctx))

    landed = spark.table("bronze.accelerometer_landing")
    assert [tuple(r) for r in landed.select("timestamp", "_source_line", "_batch").collect()] == [
        (100, 2, ctx.batches.current)
    ]
    reasons = spark.table("bronze.quarantine").select("source_line", "reason").collect()
    assert [tuple(r) for r in reasons] == [(1, "malformed JSON: Expecting value at column 1")]
    runs = spark.table("ops.runs").where(F.col("command") == "quarantine replay")
    assert [r["status"] for r in runs.collect()] == ["succeeded"]

    # Again: nothing left to move, no table gets a new version.
    warehouse = config.paths.warehouse
    versions = [
        table_version(f"{warehouse}/bronze/{t}") for t in ("quarantine", "accelerometer_landing")
    ]
    with operation(spark, config, "quarantine replay", "bronze.quarantine") as (ctx, results):
        results.extend(replay_quarantine(ctx))
    assert all(r.inserted == 0 and r.deleted == 0 for r in results)
    assert versions == [
        table_version(f"{warehouse}/bronze/{t}") for t in ("quarantine", "accelerometer_landing")
    ]

    # The next run carries the moved reading into silver, although no new file arrived.
    run_pipeline(spark, config)
    assert spark.table("silver.accelerometer_trusted").count() == 1

    assert main(["quarantine", f"paths.warehouse={warehouse}", f"paths.landing={landing}"]) == 0
    out = capsys.readouterr().out
    assert "a.json" in out and "malformed JSON: Expecting value at column 1" in out
    assert main(["quarantine", "again", f"paths.warehouse={warehouse}"]) == 2

"""The run context: its batch numbers (what a run stamps, how far tables then process) and the
results its jobs share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lakehouse.core.config import load_config
from lakehouse.core.context import Batches, RunContext
from lakehouse.core.scratch import SHARED, STAGING


def test_a_run_stamps_one_more_than_the_newest_batch_so_far() -> None:
    assert Batches.after(7).current == 8


def test_tables_process_through_the_newest_batch_before_anything_is_stamped() -> None:
    assert Batches.after(7).newest == 7


def test_once_a_job_stamped_the_run_s_batch_tables_process_through_it() -> None:
    batches = Batches.after(7)
    batches.stamped()
    assert batches.newest == 8 and batches.current == 8


def test_an_empty_warehouse_starts_at_batch_one_and_processes_nothing_before_it() -> None:
    batches = Batches.after(0)
    assert (batches.current, batches.newest) == (1, 0)


def test_a_shared_result_is_computed_once_per_run(spark: SparkSession, tmp_path: Path) -> None:
    config = load_config([f"paths.landing={tmp_path / 'l'}", f"paths.warehouse={tmp_path / 'w'}"])
    ctx = RunContext(spark, config, "run-1", datetime.now(UTC), Batches.after(0), "digest")
    computed: list[int] = []

    def rows() -> DataFrame:
        computed.append(1)
        return spark.createDataFrame([(1,), (2,)], "n INT")

    first = ctx.shared("numbers", rows)
    second = ctx.shared("numbers", rows)
    assert computed == [1]
    assert sorted(r[0] for r in first.collect()) == sorted(r[0] for r in second.collect()) == [1, 2]
    assert (tmp_path / "w" / STAGING / SHARED / "numbers").is_dir()

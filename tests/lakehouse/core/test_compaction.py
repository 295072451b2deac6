"""Scheduled runs compact tables that grew many small files, without changing a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.delta_log import DeltalakeLog, file_count
from lakehouse.core.history import table_history
from tests.helpers import deliver, snapshot

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=30, readings_per_customer=12, files=6, seed=3)
TRUSTED = "silver.accelerometer_trusted"


def test_many_small_files_are_compacted_and_runs_stay_incremental(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path
):
    data = tmp_path / "data"
    generate(data, SAMPLE)
    never = make_config("maintenance.compact_above_files=0")
    landing = Path(never.paths.landing)
    files = sorted(data.glob("*/*.json"), key=lambda p: (p.stem.rsplit("-", 1)[1], p.parent.name))
    batches = [files[i : i + 3] for i in range(0, len(files) - 3, 3)]
    for batch in batches:  # one small delivery per run
        deliver(landing, batch)
        run_pipeline(spark, never)
    location = f"{never.paths.warehouse}/silver/accelerometer_trusted"
    grown = file_count(location)
    assert grown > 3
    before = snapshot(spark, landing)

    compacting = make_config("maintenance.compact_above_files=3")
    _, results = run_pipeline(spark, compacting)  # nothing new: only compaction happens
    compacted = {r.table for r in results if r.version != r.version_before}
    assert TRUSTED in compacted and "bronze.accelerometer_landing" in compacted
    assert file_count(location) < grown and file_count(location) <= 3
    assert snapshot(spark, landing) == before
    _, history = table_history(spark, DeltalakeLog(), compacting.paths.warehouse, TRUSTED)
    assert history[0][2] == "OPTIMIZE"

    # The next delivery is still processed incrementally: compaction moved the watermark too.
    deliver(landing, files[len(batches) * 3 :])
    _, results = run_pipeline(spark, compacting)
    trusted = next(r for r in results if r.table == TRUSTED and r.version_before is not None)
    assert trusted.read < len(before[TRUSTED])
    _, results = run_pipeline(spark, compacting)
    warehouse = compacting.paths.warehouse
    for result in results:  # a run with nothing new writes nothing but compactions
        if result.version != result.version_before and not result.table.startswith("ops."):
            _, history = table_history(spark, DeltalakeLog(), warehouse, result.table)
            assert history[0][2] == "OPTIMIZE", result.table

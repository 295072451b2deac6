"""The run log and table history after a known sequence of runs."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.delta_log import DeltalakeLog
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, InjectedFault
from lakehouse.core.history import UnknownTable, run_listing, table_history
from tests.helpers import land_a_and_b, rows, withdraw_a


@pytest.mark.slow
def test_runs_and_history_name_what_each_run_did(spark: SparkSession, make_config, monkeypatch):  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    first, _ = run_pipeline(spark, config)
    with monkeypatch.context() as patch:  # a run killed mid-way leaves its row `running`
        patch.setenv(FAULT_ENV, "before:gold.customer_curated")
        patch.setenv(ACTION_ENV, "raise")
        with pytest.raises(InjectedFault):
            withdraw_a(config)
            run_pipeline(spark, config)
    third, _ = run_pipeline(spark, config)
    fourth, _ = run_pipeline(spark, config)  # nothing new

    columns, listed = run_listing(spark, config.paths.warehouse)
    by_id = {row[0]: dict(zip(columns, row, strict=True)) for row in listed}
    assert [row[0] for row in listed][::-1][0] == first and len(listed) == 4
    assert [by_id[r]["status"] for r in (first, third, fourth)] == ["succeeded"] * 3
    assert [row[3] for row in listed].count("interrupted") == 1
    assert by_id[first]["inserted"] > 0 and by_id[first]["deleted"] == 0
    assert by_id[third]["deleted"] > 0  # the withdrawal finished by the third run
    assert by_id[fourth]["inserted"] == by_id[fourth]["deleted"] == 0

    _, versions = table_history(
        spark, DeltalakeLog(), config.paths.warehouse, "gold.customer_curated"
    )
    assert [(v, op, run) for v, _, op, _, run in versions] == [
        (2, "MERGE", third),
        (1, "WRITE", first),  # a first build inserts; later runs merge
        (0, "CREATE TABLE", ""),
    ]
    assert "deleted 1" in versions[0][3]
    assert rows(spark.table("gold.customer_curated")) == []


def test_a_failed_run_is_recorded_with_its_error(spark: SparkSession, make_config, monkeypatch):  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("silver.job.trusted_customers", broken)
    with pytest.raises(RuntimeError):
        run_pipeline(spark, config)
    _, listed = run_listing(spark, config.paths.warehouse)
    assert [(row[3]) for row in listed] == ["failed"]
    error = spark.table("ops.runs").first()["error"]
    assert error == "RuntimeError: disk full"


def test_cli_runs_and_history(make_config, capsys) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    land_a_and_b(config)
    overrides = [
        f"paths.landing={config.paths.landing}",
        f"paths.warehouse={config.paths.warehouse}",
    ]
    assert main(["run", *overrides]) == 0
    capsys.readouterr()
    assert main(["runs", *overrides]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert main(["history", "silver.accelerometer_trusted", *overrides]) == 0
    out = capsys.readouterr().out
    assert "WRITE" in out and "written 2" in out  # a first build inserts
    assert main(["history", "silver.nothing", *overrides]) == 1
    with pytest.raises(UnknownTable):
        table_history(None, DeltalakeLog(), config.paths.warehouse, "nodot")  # type: ignore[arg-type]

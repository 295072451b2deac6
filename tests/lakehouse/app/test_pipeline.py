"""End to end on generated data: every table against the rules recomputed in plain Python."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.delta_log import may_hold_deletion_vectors
from tests.expected import expected_tables
from tests.helpers import ALL_TABLES, ROOT, layer_table_rows, rows, versions

SAMPLE = GenerateOptions(customers=60, readings_per_customer=12, files=3, malformed=2, seed=7)


def line_count(landing: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in landing.glob("*/*.json"))


@pytest.mark.parametrize("cutoff", [True, False], ids=["cutoff", "no-cutoff"])
def test_full_run_matches_independent_expectation(spark: SparkSession, make_config, cutoff):  # type: ignore[no-untyped-def]
    config = make_config(f"privacy.consent_cutoff={str(cutoff).lower()}")
    landing = Path(config.paths.landing)
    generate(landing, SAMPLE)
    expected = expected_tables(landing, consent_cutoff=cutoff, salt=config.privacy.pseudonym_salt)

    run_pipeline(spark, config)

    landed = sum(
        spark.table(f"bronze.{s}_landing").count()
        for s in ("customer", "accelerometer", "step_trainer")
    )
    quarantined = spark.table("bronze.quarantine").count()
    assert quarantined == 3 * SAMPLE.malformed
    assert landed + quarantined == line_count(landing)

    trusted = spark.table("silver.customer_trusted")
    assert rows(trusted, "email", "shareWithResearchAsOfDate", "serialNumber") == sorted(
        (e, c["shareWithResearchAsOfDate"], c["serialNumber"])
        for e, c in expected.customers.items()
    )
    assert rows(
        spark.table("silver.accelerometer_trusted"), "user", "timestamp", "x", "y", "z"
    ) == sorted(expected.accelerometer)
    assert rows(spark.table("gold.customer_curated"), "email") == sorted(
        (e,) for e in expected.curated
    )
    assert rows(
        spark.table("silver.step_trainer_trusted"),
        "sensorReadingTime",
        "serialNumber",
        "distanceFromObject",
    ) == sorted(expected.steps)

    # Readings of non-consenting customers who share a consenting customer's serial stay out.
    owned_serials = {expected.customers[e]["serialNumber"] for e in expected.curated}
    steps_by_serial_alone = spark.table("bronze.step_trainer_landing").where(
        F.col("serialNumber").isin(sorted(owned_serials))
    )
    assert steps_by_serial_alone.distinct().count() > len(expected.steps)

    ml = spark.table("gold.machine_learning_curated")
    actual = Counter(
        tuple(r)
        for r in ml.select(
            "customer_key", "serialNumber", "sensorReadingTime", "distanceFromObject", "x", "y", "z"
        ).collect()
    )
    assert actual == expected.machine_learning
    assert ml.select("record_id").distinct().count() == ml.count()
    # The sample is built so that pairing on time alone would be visibly wrong.
    assert expected.time_only_join != expected.machine_learning
    assert not {"email", "user", "customerName", "phone", "birthDay"} & set(ml.columns)


def test_cutoff_drops_readings_taken_before_consent(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    generate(Path(config.paths.landing), SAMPLE)
    run_pipeline(spark, config)
    early = spark.sql(
        """SELECT count(*) FROM silver.accelerometer_trusted a
           JOIN silver.customer_trusted c ON a.user = c.email
           WHERE a.timestamp < c.shareWithResearchAsOfDate"""
    ).first()
    assert early is not None and early[0] == 0
    without = expected_tables(
        Path(config.paths.landing), consent_cutoff=False, salt=config.privacy.pseudonym_salt
    )
    assert spark.table("silver.accelerometer_trusted").count() < len(without.accelerometer)


def test_rerun_on_the_same_files_writes_nothing(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    generate(Path(config.paths.landing), SAMPLE)
    run_pipeline(spark, config)
    before = versions(config)
    contents = {
        name: rows(
            spark.table(name).drop(
                "_ingestion_run_id", "_ingested_at", "ingestion_run_id", "ingested_at"
            )
        )
        for name in ALL_TABLES
    }

    _, results = run_pipeline(spark, config)

    assert versions(config) == before
    assert all((r.inserted, r.updated, r.deleted) == (0, 0, 0) for r in results)
    for name in ALL_TABLES:
        assert (
            rows(
                spark.table(name).drop(
                    "_ingestion_run_id", "_ingested_at", "ingestion_run_id", "ingested_at"
                )
            )
            == contents[name]
        ), name


def test_withdrawn_consent_removes_the_customer_everywhere(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    landing = Path(config.paths.landing)
    generate(landing, SAMPLE)
    run_pipeline(spark, config)
    email, key = spark.table("gold.customer_curated").select("email", "customer_key").first()  # type: ignore[misc]
    record = spark.table("silver.customer_trusted").where(f"email = '{email}'").first()
    assert record is not None
    withdrawal = {
        "customerName": record["customerName"],
        "email": email,
        "serialNumber": record["serialNumber"],
        "lastUpdateDate": record["lastUpdateDate"] + 1,
    }
    (landing / "customer" / "customer-9999.json").write_text(json.dumps(withdrawal) + "\n")

    _, results = run_pipeline(spark, config)

    assert spark.table("silver.customer_trusted").where(f"email = '{email}'").count() == 0
    assert spark.table("gold.customer_curated").where(f"email = '{email}'").count() == 0
    assert spark.table("silver.accelerometer_trusted").where(f"user = '{email}'").count() == 0
    assert (
        spark.table("gold.machine_learning_curated").where(f"customer_key = '{key}'").count() == 0
    )
    deleted = {r.table: r.deleted for r in results}
    assert deleted["silver.customer_trusted"] == 1
    assert deleted["silver.accelerometer_trusted"] > 0
    # The readings the incremental tables shared (they name the customer) are gone with the run.
    staging = Path(config.paths.warehouse) / "_staging"
    assert not staging.exists() or not any(staging.rglob("*"))
    # The silver readings tables marked the withdrawal in deletion vectors (deltalake's
    # QueryBuilder reads them); every other table, gold above all, stays readable by deltalake's
    # pandas reader, which refuses tables with deletion vectors.
    with_vectors = {"silver.accelerometer_trusted", "silver.step_trainer_trusted"}
    for name in ALL_TABLES:
        location = str(Path(config.paths.warehouse, *name.split(".")))
        count = spark.table(name).count()
        if name in with_vectors:
            assert may_hold_deletion_vectors(location), name
            assert layer_table_rows(Path(config.paths.warehouse))[name] == count, name
        else:
            assert len(DeltaTable(location).to_pandas()) == count, name


def test_a_new_process_finds_every_table_by_name(spark: SparkSession, make_config):  # type: ignore[no-untyped-def]
    config = make_config()
    generate(Path(config.paths.landing), SAMPLE)
    run_pipeline(spark, config)
    counts = {name: spark.table(name).count() for name in ALL_TABLES}
    overrides = [
        f"paths.landing={config.paths.landing}",
        f"paths.warehouse={config.paths.warehouse}",
    ]

    query = " UNION ALL ".join(
        f"SELECT '{name}' AS name, count(*) AS n FROM {name}" for name in ALL_TABLES
    )
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "sql", query, "--format", "csv", *overrides],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "name,n"
    assert dict((n, int(c)) for n, c in (line.split(",") for line in lines[1:])) == counts

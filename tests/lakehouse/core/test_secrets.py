"""The pseudonym salt is a secret of each warehouse: never the public default, never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.audit import consent_violations
from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import ConfigError, load_config
from tests.helpers import land_a_and_b


@pytest.mark.slow
def test_auto_draws_one_secret_per_warehouse_and_keeps_it(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys, tmp_path: Path
):
    config = make_config("privacy.pseudonym_salt=auto")
    land_a_and_b(config)
    run_pipeline(spark, config)
    secret_file = Path(config.paths.warehouse, "_secrets", "pseudonym_salt")
    secret = secret_file.read_text()
    assert len(secret) == 64 and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    keys = {
        r[0] for r in spark.table("gold.machine_learning_curated").select("customer_key").collect()
    }
    assert keys == {customer_key(secret, "a@x")}

    versions = {
        r[0]: r[1]
        for r in spark.sql(
            "SELECT table_name, max(version_after) FROM ops.run_tables GROUP BY 1"
        ).collect()
    }
    run_pipeline(spark, config)  # the same secret again: nothing to rebuild
    assert secret_file.read_text() == secret
    again = {
        r[0]: r[1]
        for r in spark.sql(
            "SELECT table_name, max(version_after) FROM ops.run_tables GROUP BY 1"
        ).collect()
    }
    assert again["gold.machine_learning_curated"] == versions["gold.machine_learning_curated"]
    assert consent_violations(spark, config) == []

    # Another warehouse gets another secret.
    other = make_config("privacy.pseudonym_salt=auto", f"paths.warehouse={tmp_path / 'other'}")
    run_pipeline(spark, other)
    assert Path(other.paths.warehouse, "_secrets", "pseudonym_salt").read_text() != secret

    # Stored in no table and printed nowhere.
    for path in Path(config.paths.warehouse).rglob("*"):
        if path.is_file() and path != secret_file:
            assert secret.encode() not in path.read_bytes(), path
    overrides = [
        f"paths.landing={config.paths.landing}",
        f"paths.warehouse={config.paths.warehouse}",
    ]
    assert main(["config", "privacy.pseudonym_salt=my-own-secret", *overrides]) == 0
    shown = capsys.readouterr().out
    assert "my-own-secret" not in shown and "pseudonym_salt: '***'" in shown
    assert main(["config", "privacy.pseudonym_salt=auto", *overrides]) == 0
    assert secret not in capsys.readouterr().out


@pytest.mark.parametrize("salt", ["stedi-lakehouse-default-salt", " "])
def test_a_public_or_empty_salt_is_refused(salt: str) -> None:
    with pytest.raises(ConfigError, match=r"privacy\.pseudonym_salt"):
        load_config([f"privacy.pseudonym_salt='{salt}'", "paths.landing=/l", "paths.warehouse=/w"])


def test_an_empty_secret_file_stops_the_run(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config("privacy.pseudonym_salt=auto")
    secret_file = Path(config.paths.warehouse, "_secrets", "pseudonym_salt")
    secret_file.parent.mkdir(parents=True)
    secret_file.touch()  # what a write cut off would leave
    land_a_and_b(config)
    with pytest.raises(ConfigError, match="is empty"):
        run_pipeline(spark, config)

"""The pseudonym salt is a secret of each warehouse: never the public default, never shown."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.audit import consent_violations
from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.pipeline import run_pipeline
from lakehouse.app.tables import pseudonymised_tables
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.config import ConfigError, load_config
from lakehouse.core.secrets import salt_fingerprint
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


KEYED = ("silver.customer_trusted", "gold.customer_curated", "gold.machine_learning_curated")


def pseudonyms(spark: SparkSession) -> dict[str, set[str]]:
    """The customer keys each table keyed by the salt holds."""
    return {
        name: {r[0] for r in spark.table(name).select("customer_key").collect()} for name in KEYED
    }


@pytest.mark.slow
def test_a_new_salt_rekeys_every_table_keyed_by_it(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    # gold.machine_learning_curated is keyed by record_id, a digest that left the pseudonym
    # out: a rebuild matched every old row and kept its old key.
    land_a_and_b(make_config())
    run_pipeline(spark, make_config("privacy.pseudonym_salt=first-secret"))
    assert pseudonyms(spark) == {name: {customer_key("first-secret", "a@x")} for name in KEYED}

    run_pipeline(spark, make_config("privacy.pseudonym_salt=second-secret"))
    assert pseudonyms(spark) == {name: {customer_key("second-secret", "a@x")} for name in KEYED}
    ml = spark.table("gold.machine_learning_curated")
    assert ml.count() == 2 and ml.select("record_id").distinct().count() == 2


def test_the_salt_fingerprint_tells_salts_apart_without_showing_one() -> None:
    first, second = salt_fingerprint("first-secret"), salt_fingerprint("second-secret")
    assert first != second and first == salt_fingerprint("first-secret")
    assert "first-secret" not in first and len(first) == 16
    assert first not in hashlib.sha256(b"first-secret").hexdigest()


def test_the_tables_keyed_by_the_salt_are_found_by_their_column() -> None:
    assert {table.qualified_name for table in pseudonymised_tables()} == set(KEYED)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


@pytest.mark.slow
def test_a_lost_salt_stops_every_run_until_restored_or_rekeyed(  # type: ignore[no-untyped-def]
    spark: SparkSession, capsys, tmp_path: Path
):
    # The attack of issue 29: the secret file deleted under a built warehouse.
    warehouse = tmp_path / "wh"
    given = [
        f"paths.landing={tmp_path / 'landing'}",
        f"paths.warehouse={warehouse}",
        "privacy.pseudonym_salt=auto",
    ]
    assert main(["generate", "--customers", "12", "--readings-per-customer", "4", *given]) == 0
    assert main(["run", *given]) == 0
    secret_file = warehouse / "_secrets" / "pseudonym_salt"
    lost = secret_file.read_text()
    secret_file.unlink()
    before = listing(warehouse)
    capsys.readouterr()

    for command in (["run"], ["run", "gold"], ["audit", "consent"], ["vacuum"]):
        assert main([*command, *given]) == 2, command
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
        assert str(secret_file) in lines[0] and "is missing" in lines[0]
        assert "Restore" in lines[0] and "lakehouse run --rekey" in lines[0]
        assert listing(warehouse) == before, command  # nothing written: no new salt, no run
    assert main(["run", "gold", "--rekey", *given]) == 2  # a re-key rebuilds everything
    assert "--rekey" in capsys.readouterr().err
    assert main(["run", "--rekey", "privacy.pseudonym_salt=set-elsewhere", *given[:2]]) == 2
    assert "change it where it is set" in capsys.readouterr().err

    assert main(["run", "--rekey", *given]) == 0
    assert "re-keyed: a new pseudonym salt" in capsys.readouterr().out
    salt = secret_file.read_text()
    assert len(salt) == 64 and salt != lost
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    attach_warehouse(spark, str(warehouse))
    emails = {r[0] for r in spark.table("silver.customer_trusted").select("email").collect()}
    keys = pseudonyms(spark)
    assert keys["silver.customer_trusted"] == {customer_key(salt, e) for e in emails}
    assert keys["gold.machine_learning_curated"]  # the sample's ML rows, every one re-keyed
    assert keys["gold.machine_learning_curated"] <= keys["gold.customer_curated"]
    assert keys["gold.customer_curated"] <= keys["silver.customer_trusted"]
    assert main(["test", *given]) == 0  # relationships hold: no orphaned pseudonym
    assert main(["run", *given]) == 0
    assert "up to date" in capsys.readouterr().out

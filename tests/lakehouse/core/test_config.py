"""Configuration composed from conf/ with overrides, as the CLI does."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.core.config import (
    CatalogKind,
    ConfigError,
    EngineName,
    S3Connector,
    StorageKind,
    load_config,
    require_landing,
)


def test_defaults_compose_to_the_embedded_engine_and_local_storage() -> None:
    config = load_config()
    assert config.engine.name == "sail"
    assert config.storage.kind == "local"
    assert config.privacy.consent_cutoff is True
    assert Path(config.paths.warehouse).is_absolute()


def test_overrides_reach_the_typed_config(tmp_path: Path) -> None:
    config = load_config(
        ["engine=spark", "privacy.consent_cutoff=false", f"paths.warehouse={tmp_path}/wh"]
    )
    assert config.engine.name == "spark" and config.engine.master == "local[*]"
    assert config.privacy.consent_cutoff is False
    assert config.paths.warehouse == str(tmp_path / "wh")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["engine=flink"], "unknown engine: choose one of sail, spark, connect"),
        (["engine=connect"], "is not a Spark Connect URL"),
        (["engine=connect", "engine.remote=localhost:15002"], "sc://host:port"),
        (["engine=connect", "engine.remote='sc://h:1/;token=abc'"], "LAKEHOUSE_CONNECT_TOKEN"),
        (["engine.name=flink"], "engine.name='flink' is not an engine"),
        (["storage.kind=ftp"], "storage.kind='ftp' is not supported: choose one of local, s3"),
        (["catalog.kind=hive"], "catalog.kind='hive' is not supported: choose one of local, glue"),
        (["storage=ftp"], "unknown storage: choose one of local, s3"),
        (["catalog=hive"], "unknown catalog: choose one of local, glue"),
        (["storage=s3"], "storage.bucket"),
        (["storage=s3", "storage.bucket=b", "paths.landing=/data"], "not an s3://bucket/prefix"),
        (["storage=s3", "storage.bucket=b", "storage.endpoint_url=localhost:9000"], "http(s)"),
        (["storage=s3", "storage.bucket=b", "paths.warehouse=s3://b/landing/wh"], "overlap"),
        (["catalog=glue"], "use storage=s3 with it"),
        (
            ["storage=s3", "storage.bucket=b", "catalog=glue", "catalog.database_prefix=a-b"],
            "letters, digits and _",
        ),
        (
            [
                "storage=s3",
                "storage.bucket=b",
                "catalog=glue",
                "catalog.database_prefix=x_",
                "catalog.engine_catalog=true",
            ],
            "needs catalog.database_prefix empty",
        ),
        (["engine.s3_connector=emrfs"], "engine.s3_connector='emrfs': choose s3a"),
        (["run.lease_seconds=1"], "at least 3"),
        (["engine.memory_limit_mb=100"], "use 0 (no limit) or at least 256"),
        (["maintenance.landing_mb_per_bronze_file=-1"], "use 0 (one bronze file per landing"),
        (
            ["privacy.consent_cutoff=maybe"],
            "privacy.consent_cutoff: Value 'maybe' is not a valid bool",
        ),
        (["privacy.cutoff=true"], "privacy.cutoff: no such configuration key"),
        (["privacy.pseudonym_salt= "], "privacy.pseudonym_salt is empty"),
        (["paths.warehouse=s3://bucket/wh"], "paths.warehouse=s3://bucket/wh is a URI"),
        (["paths.landing=/data", "paths.warehouse=/data/wh"], "overlap"),
        (["paths.landing"], "paths.landing"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(overrides)
    assert message in str(error.value)


def test_a_connect_engine_takes_spark_s_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_REMOTE", "sc://sail.internal:50051/;use_ssl=true")
    config = load_config(["engine=connect"])
    assert config.engine.name == EngineName.connect
    assert config.engine.remote == "sc://sail.internal:50051/;use_ssl=true"


def test_s3_storage_derives_both_paths_from_the_bucket() -> None:
    config = load_config(["storage=s3", "storage.bucket=stedi-data", "storage.region=eu-north-1"])
    assert config.paths.landing == "s3://stedi-data/landing"
    assert config.paths.warehouse == "s3://stedi-data/warehouse"
    assert config.storage.endpoint_url is None and config.storage.region == "eu-north-1"


def test_warehouse_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wh").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        load_config([f"paths.warehouse={tmp_path / 'wh'}"])


def test_missing_landing_zone_is_explained(tmp_path: Path) -> None:
    config = load_config([f"paths.landing={tmp_path / 'nope'}"])
    with pytest.raises(ConfigError, match=r"paths\.landing=.*does not exist.*lakehouse generate"):
        require_landing(config)


def test_kinds_are_enums_that_compare_and_print_as_their_values() -> None:
    config = load_config(["engine=spark", "engine.s3_connector=native"])
    assert config.engine.name is EngineName.spark and config.engine.name == "spark"
    assert config.engine.s3_connector is S3Connector.native
    assert config.storage.kind is StorageKind.local and config.catalog.kind is CatalogKind.local
    assert f"{config.engine.name}" == "spark"

"""Glue registration and Athena DDL on a moto server: every table, types, locations, evolution."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from importlib import resources
from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession

from lakehouse.app.cli import main
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.aws import prepared_environment
from lakehouse.core.config import Config
from lakehouse.core.ddl import ddl_script
from lakehouse.core.engine import open_session
from lakehouse.core.glue import (
    DELTA_PARAMETERS,
    CatalogTable,
    GlueTableTaken,
    catalog_table,
    register_tables,
)
from lakehouse.core.storage import upload_tree
from tests.helpers import ALL_TABLES, s3_config

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=20, readings_per_customer=4, files=1, seed=5)
EXPECTED_TYPES = {
    "bronze.customer_landing": {
        "email": "string",
        "registrationDate": "bigint",
        "shareWithResearchAsOfDate": "bigint",
        "_source_line": "int",
        "_batch": "bigint",
        "_ingested_at": "timestamp",
    },
    "bronze.accelerometer_landing": {"user": "string", "timestamp": "bigint", "x": "double"},
    "silver.step_trainer_trusted": {"sensorReadingTime": "bigint", "distanceFromObject": "int"},
}
LANDING_TABLES = ("customer_landing", "accelerometer_landing", "step_trainer_landing")


@pytest.fixture(scope="module")
def registered(
    s3_spark: SparkSession, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Config:
    """One run on S3 with catalog=glue and a database prefix."""
    bucket = f"stedi-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    config = s3_config(
        moto_endpoint,
        bucket,
        "catalog=glue",
        f"catalog.endpoint_url={moto_endpoint}",
        "catalog.database_prefix=stedi_",
    )
    data = tmp_path_factory.mktemp("glue-data")
    generate(data, SAMPLE)
    with prepared_environment(config):
        upload_tree(data, config.paths.landing)
        run_pipeline(s3_spark, config)
    return config


def glue_tables(endpoint: str, database: str) -> dict[str, dict]:  # type: ignore[type-arg]
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    return {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}


def glue_columns(endpoint: str, name: str) -> list[tuple[str, str]]:
    layer, table = name.split(".")
    storage = glue_tables(endpoint, f"stedi_{layer}")[table]["StorageDescriptor"]
    return [(c["Name"], c["Type"]) for c in storage["Columns"]]


def test_every_table_is_registered_with_types_and_location(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, registered: Config
):
    bucket = registered.storage.bucket
    for name in (*ALL_TABLES, "ops.runs", "ops.watermarks"):
        layer, table = name.split(".")
        entry = glue_tables(moto_endpoint, f"stedi_{layer}")[table]
        assert entry["StorageDescriptor"]["Location"] == f"s3://{bucket}/warehouse/{layer}/{table}"
        assert entry["Parameters"].items() >= DELTA_PARAMETERS.items()
        columns = dict(glue_columns(moto_endpoint, name))
        assert list(columns) == s3_spark.table(name).columns, name
        assert columns.items() >= EXPECTED_TYPES.get(name, {}).items(), name


def test_a_table_that_gained_a_column_is_updated(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, registered: Config
):
    location = f"{registered.paths.warehouse}/gold/customer_curated"
    evolved = s3_spark.read.format("delta").load(location).limit(0).selectExpr("*", "1.5 AS score")
    evolved.write.format("delta").mode("append").option("mergeSchema", "true").save(location)
    names = ["gold.customer_curated", "gold.machine_learning_curated"]
    warehouse = registered.paths.warehouse
    tables = [
        catalog_table(s3_spark, registered.catalog, n, f"{warehouse}/{n.replace('.', '/')}")
        for n in names
    ]
    with prepared_environment(registered):
        assert register_tables(registered.catalog, tables) == {
            "stedi_gold.customer_curated": "updated",
            "stedi_gold.machine_learning_curated": "unchanged",
        }
    assert glue_columns(moto_endpoint, "gold.customer_curated")[-1] == ("score", "decimal(2,1)")


def test_athena_ddl_matches_glue_and_the_landing_ddl_files(  # type: ignore[no-untyped-def]
    moto_endpoint: str, registered: Config, capsys
):
    overrides = [
        "storage=s3",
        f"storage.bucket={registered.storage.bucket}",
        f"storage.endpoint_url={moto_endpoint}",
        "catalog=glue",
        f"catalog.endpoint_url={moto_endpoint}",
        "catalog.database_prefix=stedi_",
    ]
    assert main(["ddl", "--dialect", "athena", *overrides]) == 0
    script = capsys.readouterr().out
    statements = re.findall(
        r"-- Columns \(from the Delta log\):\n((?:--   .*\n)+)"
        r"CREATE EXTERNAL TABLE IF NOT EXISTS `(\w+)`\.`(\w+)`\n"
        r"LOCATION '(.*)'\nTBLPROPERTIES \('table_type' = 'DELTA'\);",
        script,
    )
    assert "CREATE DATABASE IF NOT EXISTS `stedi_bronze`;" in script
    assert len(statements) == script.count("CREATE EXTERNAL TABLE") >= len(ALL_TABLES)
    for comment, database, table, location in statements:
        entry = glue_tables(moto_endpoint, database)[table]
        assert location == entry["StorageDescriptor"]["Location"]
        listed = [tuple(line.split()[1:]) for line in comment.splitlines()]
        assert listed == glue_columns(moto_endpoint, f"{database.removeprefix('stedi_')}.{table}")

    # The bronze DDL files the tables are created from declare the same columns and types.
    for table in LANDING_TABLES:
        text = resources.files("bronze").joinpath("sql", f"{table}.sql").read_text()
        declared = re.findall(r"^\s+(\w+) ([A-Z]+),?$", text, flags=re.MULTILINE)
        assert [(n, t.lower()) for n, t in declared] == glue_columns(
            moto_endpoint, f"bronze.{table}"
        )


def test_spark_ddl_lists_typed_columns() -> None:
    table = CatalogTable("bronze", "t", (("user", "string"), ("x", "double")), "s3://b/w/bronze/t")
    assert ddl_script([table], "spark") == (
        "CREATE SCHEMA IF NOT EXISTS `bronze`;\n\n"
        "CREATE TABLE IF NOT EXISTS `bronze`.`t` (\n  `user` STRING,\n  `x` DOUBLE\n)\n"
        "USING delta\nLOCATION 's3://b/w/bronze/t';\n"
    )


def test_the_embedded_engine_can_use_glue_as_its_catalog(  # type: ignore[no-untyped-def]
    moto_endpoint: str, bucket: str, tmp_path: Path
):
    config = s3_config(
        moto_endpoint,
        bucket,
        "catalog=glue",
        f"catalog.endpoint_url={moto_endpoint}",
        "catalog.engine_catalog=true",
    )
    generate(tmp_path, GenerateOptions(customers=10, readings_per_customer=3, files=1, seed=2))
    with open_session(config) as spark:
        upload_tree(tmp_path, config.paths.landing)
        run_pipeline(spark, config)
        expected = spark.table("gold.machine_learning_curated").count()
    # A new engine finds every table by name through Glue, without scanning the warehouse.
    with open_session(config) as spark:
        assert spark.catalog.currentCatalog() == "glue"
        assert [r.tableName for r in spark.sql("SHOW TABLES IN gold").collect()] == [
            "customer_curated",
            "machine_learning_curated",
        ]
        assert spark.table("gold.machine_learning_curated").count() == expected > 0
    entry = glue_tables(moto_endpoint, "gold")["machine_learning_curated"]
    assert entry["Parameters"].items() >= DELTA_PARAMETERS.items()


def test_a_second_warehouse_with_the_same_prefix_does_not_take_the_first_ones_tables(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, tmp_path: Path
):
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    generate(tmp_path, SAMPLE)

    def warehouse() -> Config:
        bucket = f"stedi-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        glue = ["catalog=glue", f"catalog.endpoint_url={moto_endpoint}"]
        config = s3_config(moto_endpoint, bucket, *glue, f"catalog.database_prefix={prefix}")
        with prepared_environment(config):
            upload_tree(tmp_path, config.paths.landing)
        return config

    def location(table: str) -> str:
        layer, name = table.split(".")
        return glue_tables(moto_endpoint, f"{prefix}{layer}")[name]["StorageDescriptor"]["Location"]

    first = warehouse()
    with prepared_environment(first):
        run_pipeline(s3_spark, first)
    second = warehouse()
    with prepared_environment(second), pytest.raises(GlueTableTaken) as refused:
        run_pipeline(s3_spark, second)
    message = str(refused.value)
    assert f"{prefix}bronze.customer_landing points at {first.paths.warehouse}/" in message
    assert "catalog.database_prefix" in message and "catalog.take_over_tables=true" in message
    assert location("gold.machine_learning_curated").startswith(first.paths.warehouse + "/")
    written = s3.list_objects_v2(Bucket=second.storage.bucket, Prefix="warehouse/")
    assert written["KeyCount"] == 0  # refused before the lock, the run log or any table

    taking = replace(second, catalog=replace(second.catalog, take_over_tables=True))
    with prepared_environment(taking):
        run_pipeline(s3_spark, taking)
    assert location("gold.machine_learning_curated").startswith(second.paths.warehouse + "/")

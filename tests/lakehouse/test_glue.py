"""Glue registration on a moto server: every table, its types and location, schema evolution."""

from __future__ import annotations

from pathlib import Path

import boto3
from pyspark.sql import SparkSession

from lakehouse.aws import prepared_environment
from lakehouse.generate import GenerateOptions, generate
from lakehouse.glue import DELTA_PARAMETERS, catalog_table, register_tables
from lakehouse.pipeline import run_pipeline
from lakehouse.storage import upload_tree
from tests.conftest import s3_config
from tests.lakehouse.test_incremental import ALL_TABLES

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


def glue_tables(endpoint: str, database: str) -> dict[str, dict]:  # type: ignore[type-arg]
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    return {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}


def test_every_table_is_registered_with_types_location_and_evolves(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, bucket: str, tmp_path: Path
):
    config = s3_config(
        moto_endpoint,
        bucket,
        "catalog=glue",
        f"catalog.endpoint_url={moto_endpoint}",
        "catalog.database_prefix=stedi_",
    )
    generate(tmp_path, SAMPLE)
    with prepared_environment(config):
        upload_tree(tmp_path, config.paths.landing)
        run_pipeline(s3_spark, config)

    for name in (*ALL_TABLES, "ops.runs", "ops.watermarks"):
        layer, table = name.split(".")
        entry = glue_tables(moto_endpoint, f"stedi_{layer}")[table]
        storage = entry["StorageDescriptor"]
        assert storage["Location"] == f"s3://{bucket}/warehouse/{layer}/{table}"
        assert entry["Parameters"].items() >= DELTA_PARAMETERS.items()
        columns = {c["Name"]: c["Type"] for c in storage["Columns"]}
        assert list(columns) == s3_spark.table(name).columns, name
        assert columns.items() >= EXPECTED_TYPES.get(name, {}).items(), name

    # A table that gained a column (a new release's schema) is updated; others are left alone.
    location = f"{config.paths.warehouse}/gold/customer_curated"
    evolved = s3_spark.read.format("delta").load(location).limit(0).selectExpr("*", "1.5 AS score")
    evolved.write.format("delta").mode("append").option("mergeSchema", "true").save(location)
    names = ["gold.customer_curated", "gold.machine_learning_curated"]
    tables = [
        catalog_table(
            s3_spark, config.catalog, name, f"{config.paths.warehouse}/{name.replace('.', '/')}"
        )
        for name in names
    ]
    with prepared_environment(config):
        assert register_tables(config.catalog, tables) == {
            "stedi_gold.customer_curated": "updated",
            "stedi_gold.machine_learning_curated": "unchanged",
        }
    storage = glue_tables(moto_endpoint, "stedi_gold")["customer_curated"]["StorageDescriptor"]
    assert storage["Columns"][-1] == {"Name": "score", "Type": "decimal(2,1)"}

"""Tables and their DDL files: one file per declared table, and transforms that write its columns.

Each DDL file (`<layer>/sql/<name>.sql`, `lakehouse/core/sql/<name>.sql`) is the one source of
its table's columns; these tests hold the declarations and the transforms to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DataType

from bronze.tables import LANDING_TABLES, QUARANTINE
from bronze.transforms import (
    FIELDS_BY_SOURCE,
    parse_records,
    quarantined_lines,
    valid_records,
    with_explanations,
    with_ingestion,
    without_text_of_valid_records,
)
from gold.tables import CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.app.tables import TABLES
from lakehouse.core.catalog import TableSpec
from lakehouse.core.landing import LINES_SCHEMA
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import (
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
    with_normalised_email,
)
from tests.helpers import ROOT

DDL_FILES = sorted([*ROOT.glob("*/sql/*.sql"), *ROOT.glob("lakehouse/core/sql/*.sql")])
CREATED = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([\w.]+)", re.IGNORECASE)
SALT = "test-salt"
BATCH, RUN_ID, INGESTED_AT = 1, "run-1", datetime(2024, 1, 1)

Columns = list[tuple[str, DataType]]
Output = Callable[[SparkSession], DataFrame]


def ddl_file(table: TableSpec) -> Path:
    package = table.package or table.schema
    return ROOT.joinpath(*package.split("."), "sql", f"{table.name}.sql")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


# (a) DDL files and declarations


def test_there_are_as_many_ddl_files_as_declared_tables() -> None:
    assert len(DDL_FILES) == len(TABLES)


@pytest.mark.parametrize("path", DDL_FILES, ids=relative)
def test_each_ddl_file_is_declared_by_exactly_one_table(path: Path) -> None:
    declaring = [table.qualified_name for table in TABLES if ddl_file(table) == path]
    assert len(declaring) == 1, declaring


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.qualified_name)
def test_each_table_has_a_ddl_file(table: TableSpec) -> None:
    assert ddl_file(table) in DDL_FILES


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.qualified_name)
def test_each_ddl_file_creates_exactly_its_table(table: TableSpec) -> None:
    assert CREATED.findall(ddl_file(table).read_text()) == [table.qualified_name]


def test_no_two_tables_share_a_name() -> None:
    counts = Counter(table.qualified_name for table in TABLES)
    assert [name for name, count in counts.items() if count > 1] == []


# (b) What each transform writes, against its table's DDL (empty inputs: only plans are read)


def empty(spark: SparkSession, table: TableSpec) -> DataFrame:
    return spark.createDataFrame([], table.row_schema)


def parsed_lines(spark: SparkSession, source: str) -> DataFrame:
    """Landing lines parsed as `bronze.job.ingest` parses them, before the split."""
    fields = FIELDS_BY_SOURCE[source]
    lines = spark.createDataFrame([], LINES_SCHEMA)
    return lines.transform(parse_records(fields)).transform(without_text_of_valid_records)


def landing_output(source: str) -> Output:
    def output(spark: SparkSession) -> DataFrame:
        return (
            parsed_lines(spark, source)
            .transform(valid_records(FIELDS_BY_SOURCE[source]))
            .transform(with_ingestion(BATCH, RUN_ID, INGESTED_AT))
        )

    return output


def quarantine_output(source: str) -> Output:
    def output(spark: SparkSession) -> DataFrame:
        return (
            parsed_lines(spark, source)
            .transform(quarantined_lines(source))
            .transform(with_explanations(None))
            .transform(with_ingestion(BATCH, RUN_ID, INGESTED_AT, prefix=""))
        )

    return output


def customer_landing(spark: SparkSession) -> DataFrame:
    """bronze.customer_landing as silver reads it (`silver.job.customer_records`)."""
    return empty(spark, LANDING_TABLES["customer"]).transform(with_normalised_email("email"))


def phone_landing(spark: SparkSession) -> DataFrame:
    """bronze.accelerometer_landing as silver reads it (`silver.job.phone_readings`)."""
    return empty(spark, LANDING_TABLES["accelerometer"]).transform(with_normalised_email("user"))


def customer_trusted_output(spark: SparkSession) -> DataFrame:
    return customer_landing(spark).transform(trusted_customers(SALT))


def accelerometer_trusted_output(spark: SparkSession) -> DataFrame:
    rule = trusted_accelerometer(empty(spark, CUSTOMER_TRUSTED), consent_cutoff=True)
    return phone_landing(spark).transform(rule)


def step_trainer_trusted_output(spark: SparkSession) -> DataFrame:
    rule = trusted_step_trainer(empty(spark, CUSTOMER_TRUSTED), empty(spark, ACCELEROMETER_TRUSTED))
    return empty(spark, LANDING_TABLES["step_trainer"]).transform(rule)


def customer_curated_output(spark: SparkSession) -> DataFrame:
    rule = customers_with_readings(empty(spark, ACCELEROMETER_TRUSTED))
    return empty(spark, CUSTOMER_TRUSTED).transform(rule)


def machine_learning_curated_output(spark: SparkSession) -> DataFrame:
    rule = aligned_with_accelerometer(
        empty(spark, CUSTOMER_TRUSTED), empty(spark, ACCELEROMETER_TRUSTED)
    )
    return empty(spark, STEP_TRAINER_TRUSTED).transform(rule)


WRITTEN: list[tuple[str, TableSpec, Output]] = [
    *((table.qualified_name, table, landing_output(s)) for s, table in LANDING_TABLES.items()),
    *(
        (f"{QUARANTINE.qualified_name}-{s}", QUARANTINE, quarantine_output(s))
        for s in LANDING_TABLES
    ),
    (CUSTOMER_TRUSTED.qualified_name, CUSTOMER_TRUSTED, customer_trusted_output),
    (ACCELEROMETER_TRUSTED.qualified_name, ACCELEROMETER_TRUSTED, accelerometer_trusted_output),
    (STEP_TRAINER_TRUSTED.qualified_name, STEP_TRAINER_TRUSTED, step_trainer_trusted_output),
    (CUSTOMER_CURATED.qualified_name, CUSTOMER_CURATED, customer_curated_output),
    (
        MACHINE_LEARNING_CURATED.qualified_name,
        MACHINE_LEARNING_CURATED,
        machine_learning_curated_output,
    ),
]


def columns(df: DataFrame) -> Columns:
    """Names and types, by name: appends and MERGEs select a table's columns by name, so the
    order a transform leaves them in does not matter (`valid_records` puts `_rescued_data`
    before the ingestion stamps, the DDL after them)."""
    return sorted(((field.name, field.dataType) for field in df.schema), key=lambda c: c[0])


@pytest.mark.parametrize(
    ("table", "output"),
    [pytest.param(table, output, id=case) for case, table, output in WRITTEN],
)
def test_each_transform_writes_its_tables_ddl_columns_and_types(
    spark: SparkSession, table: TableSpec, output: Output
) -> None:
    assert columns(output(spark)) == columns(empty(spark, table))

"""Register the warehouse's tables in the AWS Glue Data Catalog, where Athena finds them.

Each table's entry is derived from the Delta table itself (its current schema and location),
so a table that gained a column is updated on the next run. The database of a table is
`catalog.database_prefix` + its layer (`bronze`, `silver`, `gold`, `ops`).
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakehouse.core.boto import aws_client
from lakehouse.core.config import CatalogConfig, ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType, StructType

# What Athena and Glue crawlers put on a native Delta Lake table (no symlink manifest).
DELTA_PARAMETERS = {
    "EXTERNAL": "TRUE",
    "table_type": "DELTA",
    "classification": "delta",
    "spark.sql.sources.provider": "delta",
}
PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}


@dataclass(frozen=True)
class CatalogTable:
    """A table as a catalog sees it: database, name, typed columns and Delta location."""

    database: str
    name: str
    columns: tuple[tuple[str, str], ...]
    location: str

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


def catalog_table(
    spark: SparkSession, catalog: CatalogConfig, name: str, location: str
) -> CatalogTable:
    """The catalog entry for the Delta table `name` (`layer.table`) stored at `location`."""
    layer, table = name.split(".")
    schema = spark.read.format("delta").load(location).schema
    return CatalogTable(
        database=f"{catalog.database_prefix}{layer}",
        name=table,
        columns=hive_columns(schema),
        location=location,
    )


def hive_columns(schema: StructType) -> tuple[tuple[str, str], ...]:
    return tuple((field.name, hive_type(field.dataType)) for field in schema.fields)


def hive_type(data_type: DataType) -> str:
    """Glue / Hive / Athena type name: Spark's own simple names, except where Hive has none."""
    return data_type.simpleString().replace("timestamp_ntz", "timestamp")


class GlueTableTaken(ConfigError):
    """A Glue table of this warehouse's name already points at another warehouse."""


def check_ownership(catalog: CatalogConfig, locations: dict[str, str]) -> None:
    """Stop before anything is written when a Glue table this warehouse would register (by its
    `layer.table` name, at `locations[name]`) points elsewhere, unless told to take it over."""
    if catalog.take_over_tables:
        return
    wanted: dict[str, dict[str, str]] = defaultdict(dict)  # database -> table -> location
    for name, location in locations.items():
        layer, table = name.split(".")
        wanted[f"{catalog.database_prefix}{layer}"][table] = location
    client = glue_client(catalog)
    taken = []
    for database, tables in sorted(wanted.items()):
        registered = _registered_locations(client, database)
        for table, location in sorted(tables.items()):
            found = registered.get(table)
            if found and not _same(found, location):
                taken.append(f"{database}.{table} points at {found}")
    if taken:
        shown = "; ".join(taken[:3]) + (f"; and {len(taken) - 3} more" if len(taken) > 3 else "")
        raise GlueTableTaken(
            f"Glue tables of this name belong to another warehouse ({shown}): give this "
            "warehouse its own catalog.database_prefix, or set catalog.take_over_tables=true "
            "to point them at this one"
        )


def _registered_locations(client: Any, database: str) -> dict[str, str]:
    """Each table of a Glue database and its location (none if the database does not exist)."""
    locations = {}
    try:
        for page in client.get_paginator("get_tables").paginate(DatabaseName=database):
            for table in page["TableList"]:
                locations[table["Name"]] = table.get("StorageDescriptor", {}).get("Location", "")
    except client.exceptions.EntityNotFoundException:
        return {}
    return locations


def _same(one: str, other: str) -> bool:
    return one.rstrip("/") == other.rstrip("/")


def register_tables(catalog: CatalogConfig, tables: list[CatalogTable]) -> dict[str, str]:
    """Create or update each table's Glue entry; what happened to each (`created`, ...)."""
    client = glue_client(catalog)
    done = {}
    for table in tables:
        _ensure_database(client, table.database)
        done[table.qualified_name] = _upsert(client, table)
    return done


def glue_client(catalog: CatalogConfig) -> Any:
    # The endpoint is passed explicitly: AWS_ENDPOINT_URL may point at an S3-compatible store.
    return aws_client("glue", region_name=catalog.region, endpoint_url=catalog.endpoint_url or None)


def table_input(table: CatalogTable) -> dict[str, Any]:
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(DELTA_PARAMETERS),
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind} for name, kind in table.columns],
            "Location": table.location,
            **PARQUET_STORAGE,
        },
    }


def _ensure_database(client: Any, database: str) -> None:
    with suppress(client.exceptions.AlreadyExistsException):
        client.create_database(DatabaseInput={"Name": database})


def _upsert(client: Any, table: CatalogTable) -> str:
    wanted = table_input(table)
    try:
        current = client.get_table(DatabaseName=table.database, Name=table.name)["Table"]
    except client.exceptions.EntityNotFoundException:
        client.create_table(DatabaseName=table.database, TableInput=wanted)
        return "created"
    storage = current.get("StorageDescriptor", {})
    if (
        storage.get("Columns") == wanted["StorageDescriptor"]["Columns"]
        and storage.get("Location") == table.location
        and current.get("Parameters", {}).items() >= DELTA_PARAMETERS.items()
    ):
        return "unchanged"
    client.update_table(DatabaseName=table.database, TableInput=wanted)
    return "updated"

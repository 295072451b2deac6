"""Tables by name: where each lives in the warehouse, its DDL, and catalog registration.

Every table's DDL is a SQL file shipped with its layer (`bronze/sql/customer_landing.sql`, ...);
the jobs create tables by running exactly that file, so the files cannot drift from the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from lakehouse.core.delta_log import delta_table, drop_checkpoint_hint, is_delta_table
from lakehouse.core.storage import join, subfolders

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DELETION_VECTORS = "delta.enableDeletionVectors"
# What a table without the property does: a table made before its DDL set it needs no change.
PROPERTY_DEFAULTS = {DELETION_VECTORS: "false"}


@dataclass(frozen=True)
class TableSpec:
    """One Delta table: catalog schema (= layer), name, and the key its MERGE matches on.

    Its DDL is `<package>/sql/<name>.sql` (the package is the layer's unless named), and that
    file is the one source of its columns: rows written to it are built with `row_schema`.
    Each layer declares its tables once, in its `tables` module.
    """

    schema: str
    name: str
    keys: tuple[str, ...]
    package: str | None = None
    # The key is a digest of the row's content: a matched row never changes, so its MERGEs
    # only insert and delete (no update clause).
    content_keyed: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def location(self, warehouse: str) -> str:
        return table_location(warehouse, self.qualified_name)

    def ddl(self, warehouse: str, *, deletion_vectors: bool = False) -> str:
        """The CREATE TABLE statement from the layer's SQL file, with the table's location (and
        deletion vectors on or off where the file leaves that to the configuration)."""
        text = _ddl_file(self.package or self.schema, self.name)
        location = sql_text(self.location(warehouse))
        values = {"location": location, "deletion_vectors": _flag(deletion_vectors)}
        return Template(text).substitute(values).strip().rstrip(";")

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(name, SQL type) of every column, in the order its DDL file declares them."""
        return _declared_columns(self.package or self.schema, self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def row_schema(self) -> str:
        """The columns as a DDL schema string, for building rows of this table."""
        return ", ".join(f"`{name}` {kind}" for name, kind in self.columns)

    def properties(self, *, deletion_vectors: bool = False) -> dict[str, str]:
        """The table properties (TBLPROPERTIES) its DDL file sets."""
        statement = _parsed_ddl(self.package or self.schema, self.name, deletion_vectors)
        return {
            prop.name: prop.args["value"].name
            for prop in statement.find_all(exp.Property)
            if type(prop) is exp.Property
        }


@cache
def _ddl_file(package: str, name: str) -> str:
    return resources.files(package).joinpath("sql", f"{name}.sql").read_text()


@cache
def _parsed_ddl(package: str, name: str, deletion_vectors: bool = False) -> exp.Expr:
    """The DDL file parsed once (read only: columns and properties come from it)."""
    values = {"location": "/", "deletion_vectors": _flag(deletion_vectors)}
    text = Template(_ddl_file(package, name)).substitute(values).strip().rstrip(";")
    return sqlglot.parse_one(text, read="spark")


def _flag(value: bool) -> str:
    return "true" if value else "false"


@cache
def _declared_columns(package: str, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (column.name, column.args["kind"].sql(dialect="spark"))
        for column in _parsed_ddl(package, name).find_all(exp.ColumnDef)
    )


def table_location(warehouse: str, name: str) -> str:
    """Where the table `<schema>.<table>` lives in the warehouse (any table, declared or not)."""
    schema, _, table = name.partition(".")
    return f"{warehouse.rstrip('/')}/{schema}/{table}"


def ensure_properties(
    spark: SparkSession, table: TableSpec, warehouse: str, *, deletion_vectors: bool = False
) -> bool:
    """Give a table made by an older DDL (or under another `tables.deletion_vectors`) the
    properties its DDL file sets now; True if it did.

    Tables are created with their DDL's properties; this brings older tables up to date.
    """
    location = table.location(warehouse)
    current = delta_table(location).metadata().configuration
    missing = missing_properties(table, current, deletion_vectors=deletion_vectors)
    if not missing:
        return False
    assignments = ", ".join(f"'{sql_text(k)}' = '{sql_text(v)}'" for k, v in missing.items())
    spark.sql(f"ALTER TABLE {table.qualified_name} SET TBLPROPERTIES ({assignments})")
    drop_checkpoint_hint(location)
    return True


def missing_properties(
    table: TableSpec, current: Mapping[str, str], *, deletion_vectors: bool = False
) -> dict[str, str]:
    """The properties the table's DDL file sets that `current` (its log's) lacks or differs in."""
    wanted = table.properties(deletion_vectors=deletion_vectors)
    return {
        key: value
        for key, value in wanted.items()
        if current.get(key, PROPERTY_DEFAULTS.get(key)) != value
    }


def ensure_table(
    spark: SparkSession, table: TableSpec, warehouse: str, *, deletion_vectors: bool = False
) -> None:
    """Create the table from its DDL file if it does not exist yet."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
    _forget_if_elsewhere(spark, table.qualified_name, table.location(warehouse))
    spark.sql(table.ddl(warehouse, deletion_vectors=deletion_vectors))


def register(spark: SparkSession, name: str, location: str) -> None:
    """Point the catalog name at the Delta table stored at `location`."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}")
    _forget_if_elsewhere(spark, name, location)
    _point_at(spark, name, location)


def _point_at(spark: SparkSession, name: str, location: str) -> None:
    spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{sql_text(location)}'")


def sql_text(value: str) -> str:
    """`value` escaped for use inside a single-quoted SQL string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _forget_if_elsewhere(spark: SparkSession, name: str, location: str) -> None:
    """Drop a catalog entry that points at another warehouse (the data stays: it is external).

    One session can serve several warehouses in turn (tests, notebooks); a name must follow.
    """
    if not spark.catalog.tableExists(name):
        return
    details = {row[0]: row[1] for row in spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()}
    registered = str(details.get("Location", "")).removeprefix("file:").rstrip("/")
    if registered and registered != location.removeprefix("file:").rstrip("/"):
        spark.sql(f"DROP TABLE {name}")


def attach_warehouse(spark: SparkSession, warehouse: str) -> list[str]:
    """Register every Delta table found in the warehouse by name; return their names.

    The embedded engine's catalog lives in memory, so a new process re-attaches the warehouse
    (`<warehouse>/<schema>/<table>/_delta_log`) before it queries anything.
    """
    names: list[str] = []
    for schema in _table_folders(warehouse):
        tables = [
            table
            for table in _table_folders(join(warehouse, schema))
            if is_delta_table(join(warehouse, schema, table))
        ]
        if not tables:
            continue
        # One round trip per schema, not three per table: a new process registers every table.
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        registered = {table.name for table in spark.catalog.listTables(schema)}
        for table in tables:
            name, location = f"{schema}.{table}", join(warehouse, schema, table)
            if table in registered:
                _forget_if_elsewhere(spark, name, location)
            _point_at(spark, name, location)
            names.append(name)
    return names


def warehouse_tables(warehouse: str) -> list[str]:
    """The names of the Delta tables in the warehouse, as `attach_warehouse` finds them."""
    return [
        f"{schema}.{table}"
        for schema in _table_folders(warehouse)
        for table in _table_folders(join(warehouse, schema))
        if is_delta_table(join(warehouse, schema, table))
    ]


def _table_folders(folder: str) -> list[str]:
    """Schema and table folders; `_`- or `.`-prefixed ones are scratch space (`_staging`)."""
    return [name for name in subfolders(folder) if not name.startswith(("_", "."))]

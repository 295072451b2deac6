"""SQL DDL for the warehouse's tables, as registered: Athena (Glue) or Spark SQL.

Athena takes a Delta table's columns from its transaction log and refuses a CREATE statement
with anything but LOCATION and `table_type`, so the columns it will see are listed as a
comment above each statement, from the same schema the Glue entry carries.
"""

from __future__ import annotations

from lakehouse.core.catalog import sql_text
from lakehouse.core.glue import CatalogTable

DIALECTS = ("athena", "spark")


def ddl_script(tables: list[CatalogTable], dialect: str) -> str:
    """One script creating every database and table, in the order given."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: choose one of {', '.join(DIALECTS)}")
    render = athena_ddl if dialect == "athena" else spark_ddl
    keyword = "DATABASE" if dialect == "athena" else "SCHEMA"
    databases = sorted({table.database for table in tables})
    statements = [f"CREATE {keyword} IF NOT EXISTS {_quote(name)};" for name in databases]
    statements += [render(table) for table in tables]
    return "\n\n".join(statements) + "\n"


def athena_ddl(table: CatalogTable) -> str:
    columns = "\n".join(f"--   {name} {kind}" for name, kind in table.columns)
    return (
        f"-- Columns (from the Delta log):\n{columns}\n"
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {_quote(table.database)}.{_quote(table.name)}\n"
        f"LOCATION '{sql_text(table.location)}'\n"
        "TBLPROPERTIES ('table_type' = 'DELTA');"
    )


def spark_ddl(table: CatalogTable) -> str:
    columns = ",\n".join(f"  {_quote(name)} {kind.upper()}" for name, kind in table.columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {_quote(table.database)}.{_quote(table.name)} (\n"
        f"{columns}\n)\nUSING delta\nLOCATION '{sql_text(table.location)}';"
    )


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"

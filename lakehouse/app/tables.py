"""Every table of the lakehouse, as its layer declares it (`<layer>/tables.py`, `ops_tables`)."""

from __future__ import annotations

from bronze import tables as bronze
from gold import tables as gold
from lakehouse.core import ops_tables
from lakehouse.core.catalog import TableSpec
from silver import tables as silver

TABLES: tuple[TableSpec, ...] = (*ops_tables.TABLES, *bronze.TABLES, *silver.TABLES, *gold.TABLES)

# The column that holds the salted pseudonym (`silver.transforms.with_customer_key`).
PSEUDONYM_COLUMN = "customer_key"


def pseudonymised_tables() -> tuple[TableSpec, ...]:
    """The tables whose rows carry pseudonyms made with the salt (their DDL has the column):
    a new salt must rebuild every one of them, and a lost one stops every run."""
    return tuple(table for table in TABLES if PSEUDONYM_COLUMN in table.column_names)

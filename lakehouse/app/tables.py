"""Every table of the lakehouse, as its layer declares it (`<layer>/tables.py`, `ops_tables`)."""

from __future__ import annotations

from bronze import tables as bronze
from gold import tables as gold
from lakehouse.core import ops_tables
from lakehouse.core.catalog import TableSpec
from silver import tables as silver

TABLES: tuple[TableSpec, ...] = (*ops_tables.TABLES, *bronze.TABLES, *silver.TABLES, *gold.TABLES)

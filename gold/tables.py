"""The gold layer's tables: name, MERGE key and DDL file (`gold/sql/<name>.sql`)."""

from __future__ import annotations

from lakehouse.core.catalog import TableSpec

CUSTOMER_CURATED = TableSpec("gold", "customer_curated", ("email",))
# record_id digests the two readings paired and the customer's pseudonym; every other column
# follows from them (a new salt gives every row a new id: see `gold.transforms`).
MACHINE_LEARNING_CURATED = TableSpec(
    "gold", "machine_learning_curated", ("record_id",), content_keyed=True
)

TABLES = (CUSTOMER_CURATED, MACHINE_LEARNING_CURATED)

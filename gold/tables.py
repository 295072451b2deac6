"""The gold layer's tables: name, MERGE key and DDL file (`gold/sql/<name>.sql`)."""

from __future__ import annotations

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from lakehouse.core.catalog import TableSpec
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED

CUSTOMER_CURATED = TableSpec("gold", "customer_curated", ("email",))
# record_id digests the two readings paired and the customer's pseudonym; every other column
# follows from them (a new salt gives every row a new id: see `gold.transforms`).
MACHINE_LEARNING_CURATED = TableSpec(
    "gold", "machine_learning_curated", ("record_id",), content_keyed=True
)

TABLES = (CUSTOMER_CURATED, MACHINE_LEARNING_CURATED)

_BRONZE = (CUSTOMER_LANDING.qualified_name, ACCELEROMETER_LANDING.qualified_name)
# What each table's job reads, in run order (see `silver.tables.BUILT_FROM`).
BUILT_FROM: dict[str, tuple[str, ...]] = {
    CUSTOMER_CURATED.qualified_name: (
        *_BRONZE,
        CUSTOMER_TRUSTED.qualified_name,
        ACCELEROMETER_TRUSTED.qualified_name,
    ),
    MACHINE_LEARNING_CURATED.qualified_name: (
        *_BRONZE,
        STEP_TRAINER_LANDING.qualified_name,
        STEP_TRAINER_TRUSTED.qualified_name,
        CUSTOMER_TRUSTED.qualified_name,
        ACCELEROMETER_TRUSTED.qualified_name,
    ),
}

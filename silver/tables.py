"""The silver layer's tables: name, MERGE key and DDL file (`silver/sql/<name>.sql`)."""

from __future__ import annotations

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from lakehouse.core.catalog import TableSpec

CUSTOMER_TRUSTED = TableSpec("silver", "customer_trusted", ("email",))
# Readings are keyed by a digest of their fields (`with_row_id`): rows never change.
ACCELEROMETER_TRUSTED = TableSpec(
    "silver", "accelerometer_trusted", ("reading_id",), content_keyed=True
)
STEP_TRAINER_TRUSTED = TableSpec(
    "silver", "step_trainer_trusted", ("reading_id",), content_keyed=True
)

TABLES = (CUSTOMER_TRUSTED, ACCELEROMETER_TRUSTED, STEP_TRAINER_TRUSTED)

_CUSTOMERS = CUSTOMER_LANDING.qualified_name
_PHONES = ACCELEROMETER_LANDING.qualified_name
# What each table's job reads, in run order: a run builds them first. Declared here, beside
# the tables, so choosing what to run needs no job (nor the engine the jobs import).
BUILT_FROM: dict[str, tuple[str, ...]] = {
    CUSTOMER_TRUSTED.qualified_name: (_CUSTOMERS,),
    ACCELEROMETER_TRUSTED.qualified_name: (_CUSTOMERS, _PHONES, CUSTOMER_TRUSTED.qualified_name),
    STEP_TRAINER_TRUSTED.qualified_name: (
        _CUSTOMERS,
        _PHONES,
        STEP_TRAINER_LANDING.qualified_name,
        CUSTOMER_TRUSTED.qualified_name,
        ACCELEROMETER_TRUSTED.qualified_name,
    ),
}

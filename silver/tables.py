"""The silver layer's tables: name, MERGE key and DDL file (`silver/sql/<name>.sql`)."""

from __future__ import annotations

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

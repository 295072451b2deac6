"""The bronze layer's tables: name, MERGE key and DDL file (`bronze/sql/<name>.sql`)."""

from __future__ import annotations

from lakehouse.core.catalog import TableSpec

# The landing sources, each a folder of newline-delimited JSON files in the landing zone.
SOURCES = ("customer", "accelerometer", "step_trainer")

# A record is identified by where it was read: file, content checksum, line.
LINEAGE_KEY = ("_source_file", "_source_checksum", "_source_line")
CUSTOMER_LANDING = TableSpec("bronze", "customer_landing", LINEAGE_KEY)
ACCELEROMETER_LANDING = TableSpec("bronze", "accelerometer_landing", LINEAGE_KEY)
STEP_TRAINER_LANDING = TableSpec("bronze", "step_trainer_landing", LINEAGE_KEY)
LANDING_TABLES = {
    "customer": CUSTOMER_LANDING,
    "accelerometer": ACCELEROMETER_LANDING,
    "step_trainer": STEP_TRAINER_LANDING,
}

# Lines that are no valid record, kept with their file, line and reason.
LINE_KEY = ("source_file", "source_checksum", "source_line")
QUARANTINE = TableSpec("bronze", "quarantine", LINE_KEY)
# The files ingested so far (by path and content), and the batch that ingested each.
INGESTED_FILES = TableSpec("bronze", "ingested_files", ("file", "checksum"))
# Quarantined lines moved to landing by `lakehouse replay`, and the batch that moved them.
QUARANTINE_REPLAYS = TableSpec("bronze", "quarantine_replays", ("run_id", "source"))

TABLES = (*LANDING_TABLES.values(), QUARANTINE, INGESTED_FILES, QUARANTINE_REPLAYS)

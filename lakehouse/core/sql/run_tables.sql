-- What each run did to each table: versions before and after, and rows read, inserted,
-- updated, deleted and quarantined (from the Delta commit metrics).
CREATE TABLE IF NOT EXISTS ops.run_tables (
  run_id STRING,
  table_name STRING,
  version_before BIGINT,
  version_after BIGINT,
  rows_read BIGINT,
  rows_inserted BIGINT,
  rows_updated BIGINT,
  rows_deleted BIGINT,
  rows_quarantined BIGINT
)
USING delta
LOCATION '${location}';

-- How far each silver and gold table has processed the bronze batches.
-- `table_version` is the table's version right after that processing: if the table has moved
-- since (a restore, a manual change, or a crash before this row was written), the next run
-- rebuilds it in full. `config_digest` does the same when a setting the table depends on changes.
CREATE TABLE IF NOT EXISTS ops.watermarks (
  table_name STRING,
  through_batch BIGINT,
  table_version BIGINT,
  config_digest STRING,
  run_id STRING,
  updated_at TIMESTAMP
)
USING delta
LOCATION '${location}';

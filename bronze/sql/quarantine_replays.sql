-- Each `lakehouse quarantine replay` that moved lines into bronze: per source, how many, and
-- the batch the moved records were stamped with (silver and gold pick them up from it).
CREATE TABLE IF NOT EXISTS bronze.quarantine_replays (
  run_id STRING,
  source STRING,
  files BIGINT,
  lines_moved BIGINT,
  batch BIGINT,
  replayed_at TIMESTAMP
)
USING delta
LOCATION '${location}';

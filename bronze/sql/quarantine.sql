-- Every landing line of any source that could not be parsed or typed, kept verbatim.
CREATE TABLE IF NOT EXISTS bronze.quarantine (
  source STRING,
  source_file STRING,
  source_checksum STRING,
  source_line INT,
  raw STRING,
  reason STRING,
  batch BIGINT,
  ingestion_run_id STRING,
  ingested_at TIMESTAMP
)
USING delta
LOCATION '${location}'
-- Per-file statistics (min/max values in the Delta log) only of columns that name nobody:
-- an erased person's email, name or pseudonym must not survive in the log.
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'source,source_file,source_checksum,source_line,batch,ingestion_run_id,ingested_at');

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
LOCATION '${location}';

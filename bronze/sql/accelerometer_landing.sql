-- Every valid accelerometer reading of every landing file, typed, with lineage.
-- `_rescued_data`: keys the schema does not know, as a JSON object (NULL when there are none).
-- `timestamp` is epoch milliseconds; older exports spell the key `timeStamp`.
CREATE TABLE IF NOT EXISTS bronze.accelerometer_landing (
  user STRING,
  timestamp BIGINT,
  x DOUBLE,
  y DOUBLE,
  z DOUBLE,
  _source_file STRING,
  _source_checksum STRING,
  _source_line INT,
  _batch BIGINT,
  _ingestion_run_id STRING,
  _ingested_at TIMESTAMP,
  _rescued_data STRING
)
USING delta
LOCATION '${location}'
-- Per-file statistics (min/max values in the Delta log) only of columns that name nobody:
-- an erased person's email, name or pseudonym must not survive in the log.
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'timestamp,x,y,z,_source_file,_source_checksum,_source_line,_batch,_ingestion_run_id,_ingested_at');

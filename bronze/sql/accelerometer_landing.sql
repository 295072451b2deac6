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
LOCATION '${location}';

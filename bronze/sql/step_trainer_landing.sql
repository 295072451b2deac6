-- Every valid step-trainer reading of every landing file, typed, with lineage.
-- `sensorReadingTime` is epoch milliseconds.
CREATE TABLE IF NOT EXISTS bronze.step_trainer_landing (
  sensorReadingTime BIGINT,
  serialNumber STRING,
  distanceFromObject INT,
  _source_file STRING,
  _source_checksum STRING,
  _source_line INT,
  _batch BIGINT,
  _ingestion_run_id STRING,
  _ingested_at TIMESTAMP
)
USING delta
LOCATION '${location}';

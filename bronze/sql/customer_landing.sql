-- Every valid customer record of every landing file, typed, with lineage.
-- `_rescued_data`: keys the schema does not know, as a JSON object (NULL when there are none).
-- Dates are epoch milliseconds (BIGINT); a NULL consent date means the key was absent.
CREATE TABLE IF NOT EXISTS bronze.customer_landing (
  customerName STRING,
  email STRING,
  phone STRING,
  birthDay STRING,
  serialNumber STRING,
  registrationDate BIGINT,
  lastUpdateDate BIGINT,
  shareWithResearchAsOfDate BIGINT,
  shareWithPublicAsOfDate BIGINT,
  shareWithFriendsAsOfDate BIGINT,
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
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'serialNumber,registrationDate,lastUpdateDate,shareWithResearchAsOfDate,shareWithPublicAsOfDate,shareWithFriendsAsOfDate,_source_file,_source_checksum,_source_line,_batch,_ingestion_run_id,_ingested_at');

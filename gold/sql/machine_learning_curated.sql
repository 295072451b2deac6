-- Each trusted step-trainer reading with the same customer's accelerometer readings at the
-- same millisecond. No direct identifiers: customer_key is a salted pseudonym of the email.
CREATE TABLE IF NOT EXISTS gold.machine_learning_curated (
  record_id STRING,
  customer_key STRING,
  serialNumber STRING,
  sensorReadingTime BIGINT,
  distanceFromObject INT,
  x DOUBLE,
  y DOUBLE,
  z DOUBLE
)
USING delta
LOCATION '${location}'
-- Per-file statistics (min/max values in the Delta log) only of columns that name nobody:
-- an erased person's email, name or pseudonym must not survive in the log.
TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'serialNumber,sensorReadingTime,distanceFromObject,x,y,z');

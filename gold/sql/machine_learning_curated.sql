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
LOCATION '${location}';

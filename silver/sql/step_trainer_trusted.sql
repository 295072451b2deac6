-- Step-trainer readings whose serial number belongs to a customer with trusted accelerometer
-- readings (with the consent cutoff: taken after that customer's consent).
CREATE TABLE IF NOT EXISTS silver.step_trainer_trusted (
  reading_id STRING,
  sensorReadingTime BIGINT,
  serialNumber STRING,
  distanceFromObject INT
)
USING delta
LOCATION '${location}';

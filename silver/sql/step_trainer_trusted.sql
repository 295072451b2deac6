-- Step-trainer readings of trusted customers. Serial numbers were shared between customers by
-- a fulfilment bug, so a reading is kept only when a trusted customer owns its serial number
-- and has a trusted accelerometer reading at the same millisecond (hence after consent when the
-- consent cutoff is on).
CREATE TABLE IF NOT EXISTS silver.step_trainer_trusted (
  reading_id STRING,
  sensorReadingTime BIGINT,
  serialNumber STRING,
  distanceFromObject INT
)
USING delta
LOCATION '${location}'
-- Deletion vectors only when the configuration asks for them (`tables.deletion_vectors`): a
-- withdrawn consent then marks its readings deleted instead of rewriting every file holding one.
TBLPROPERTIES ('delta.enableDeletionVectors' = '${deletion_vectors}');

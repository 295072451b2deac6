-- Accelerometer readings of trusted customers (with the consent cutoff: taken after consent).
-- reading_id is a SHA-256 of the business fields; identical readings are kept once.
CREATE TABLE IF NOT EXISTS silver.accelerometer_trusted (
  reading_id STRING,
  user STRING,
  timestamp BIGINT,
  x DOUBLE,
  y DOUBLE,
  z DOUBLE
)
USING delta
LOCATION '${location}'
-- Per-file statistics (min/max values in the Delta log) only of columns that name nobody:
-- an erased person's email, name or pseudonym must not survive in the log.
-- Deletion vectors only when the configuration asks for them (`tables.deletion_vectors`): a
-- withdrawn consent then marks its readings deleted instead of rewriting every file holding one.
TBLPROPERTIES (
  'delta.dataSkippingStatsColumns' = 'timestamp,x,y,z',
  'delta.enableDeletionVectors' = '${deletion_vectors}'
);

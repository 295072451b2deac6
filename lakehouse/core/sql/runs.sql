-- The run log: one row per operation (`lakehouse run`, and each restore, erasure, vacuum,
-- quarantine replay and `sql --allow-writes`), written when it
-- starts (`running`) and when it ends (`succeeded` / `failed`). A row still `running` when the
-- next run takes the warehouse lock belongs to a run that was killed: it becomes `interrupted`.
CREATE TABLE IF NOT EXISTS ops.runs (
  run_id STRING,
  command STRING,
  target STRING,
  status STRING,
  started_at TIMESTAMP,
  ended_at TIMESTAMP,
  config_digest STRING,
  error STRING
)
USING delta
LOCATION '${location}';

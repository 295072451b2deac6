-- Every erasure, from the moment it is asked for until no byte of the warehouse holds the
-- person: a durable intent, so an erasure cut short (a kill, Ctrl-C, a storage outage) is
-- known to be unfinished by the next `erase` of that person (which finishes it), by `vacuum`
-- and by `audit consent` (which report it). The person is named by digest only; `tables` are
-- the tables that held their rows when the erasure was asked for, `landing_files` the landing
-- files that still hold their records (the lakehouse does not own them).
CREATE TABLE IF NOT EXISTS ops.erasures (
  digest STRING,
  run_id STRING,
  requested_at TIMESTAMP,
  retain_hours INT,
  tables ARRAY<STRING>,
  landing_files ARRAY<STRING>,
  completed_at TIMESTAMP,
  completed_by STRING
)
USING delta
LOCATION '${location}';

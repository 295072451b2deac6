-- What each data-quality rule found in each table a run built (`lakehouse.core.expectations`):
-- rows judged, rows failing, and the outcome (passed, warned, dropped or failed).
CREATE TABLE IF NOT EXISTS ops.rule_results (
  run_id STRING,
  table_name STRING,
  rule STRING,
  check_kind STRING,
  action STRING,
  requirement STRING,
  rows_checked BIGINT,
  rows_failing BIGINT,
  outcome STRING,
  detail STRING
)
USING delta
LOCATION '${location}';

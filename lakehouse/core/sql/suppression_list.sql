-- Erased people, so that no later delivery brings them back: a digest of the normalised email
-- (`lakehouse.core.identity.email_digest`), never the email. Bronze drops every record, reading
-- and quarantined line of theirs before it is written.
CREATE TABLE IF NOT EXISTS ops.suppression_list (
  digest STRING,
  erased_at TIMESTAMP,
  run_id STRING
)
USING delta
LOCATION '${location}';

-- The ingested landing files: one row per file content (path + SHA-256).
-- A file counts as ingested once its row is here; the row is committed after the file's
-- records are in the landing and quarantine tables, so a crash in between re-reads the file.
CREATE TABLE IF NOT EXISTS bronze.ingested_files (
  source STRING,
  file STRING,
  checksum STRING,
  size BIGINT,
  modified_ns BIGINT,
  batch BIGINT,
  ingestion_run_id STRING,
  ingested_at TIMESTAMP,
  -- The S3 ETag (NULL for local files): with size and time, how a listing recognises the file.
  etag STRING
)
USING delta
LOCATION '${location}';

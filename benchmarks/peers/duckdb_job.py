"""DuckDB peers: the same joins from the same JSON to Parquet, and the floor (no joins).

python benchmarks/peers/duckdb_job.py joins LANDING OUTPUT
python benchmarks/peers/duckdb_job.py floor LANDING OUTPUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

SOURCES = ("customer", "accelerometer", "step_trainer")
READ = (
    "read_json('{landing}/{source}/*.json', format='newline_delimited', "
    "union_by_name=true, ignore_errors=true)"
)

JOINS = """
CREATE TEMP TABLE customer_trusted AS
SELECT * EXCLUDE (rank) FROM (
  SELECT *, row_number() OVER (PARTITION BY email ORDER BY lastUpdateDate DESC) AS rank
  FROM {customer} WHERE email IS NOT NULL
) WHERE rank = 1 AND shareWithResearchAsOfDate IS NOT NULL;

CREATE TEMP TABLE accelerometer_trusted AS
SELECT a.user, a."timestamp", a.x, a.y, a.z, c.serialNumber
FROM (
  -- DuckDB matches names case-insensitively: `timeStamp` files arrive as `timeStamp_1`.
  SELECT user, coalesce(*COLUMNS('(?i)^timestamp(_1)?$'))::BIGINT AS "timestamp", x, y, z
  FROM {accelerometer}
) a JOIN customer_trusted c ON a.user = c.email
WHERE a."timestamp" >= c.shareWithResearchAsOfDate;

CREATE TEMP TABLE step_trainer_trusted AS
SELECT s.* FROM {step_trainer} s
WHERE EXISTS (SELECT 1 FROM accelerometer_trusted a
              WHERE a.serialNumber = s.serialNumber AND a."timestamp" = s.sensorReadingTime);

CREATE TEMP TABLE machine_learning_curated AS
SELECT s.serialNumber, s.sensorReadingTime, s.distanceFromObject, a.x, a.y, a.z
FROM step_trainer_trusted s JOIN accelerometer_trusted a
  ON a.serialNumber = s.serialNumber AND a."timestamp" = s.sensorReadingTime;
"""
TABLES = (
    "customer_trusted",
    "accelerometer_trusted",
    "step_trainer_trusted",
    "machine_learning_curated",
)


def main(mode: str, landing: str, output: str) -> None:
    Path(output).mkdir(parents=True, exist_ok=True)
    db = duckdb.connect()
    reads = {source: READ.format(landing=landing, source=source) for source in SOURCES}
    if mode == "floor":
        for source, read in reads.items():
            db.execute(
                f"COPY (SELECT * FROM {read}) TO '{output}/{source}.parquet' (FORMAT parquet)"
            )
        return
    db.execute(JOINS.format(**reads))
    for table in TABLES:
        db.execute(f"COPY {table} TO '{output}/{table}.parquet' (FORMAT parquet)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

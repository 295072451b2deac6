"""The run ledger (`ops.runs`, `ops.run_tables`): which run changed which table, and how.

Written through the same MERGE path as every table, so it is a Delta table with its own
history. It never holds personal data: erasures record a digest, not the email.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime

from pyspark.sql import functions as F

from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import Config
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.interrupt import Interrupted

RUNS = TableSpec("ops", "runs", ("run_id",), package="lakehouse.core")
RUN_TABLES = TableSpec("ops", "run_tables", ("run_id", "table_name"), package="lakehouse.core")
RUN_SCHEMA = (
    "run_id STRING, command STRING, target STRING, status STRING, started_at TIMESTAMP, "
    "ended_at TIMESTAMP, config_digest STRING, error STRING"
)
RUN_TABLE_SCHEMA = (
    "run_id STRING, table_name STRING, version_before BIGINT, version_after BIGINT, "
    "rows_read BIGINT, rows_inserted BIGINT, rows_updated BIGINT, rows_deleted BIGINT, "
    "rows_quarantined BIGINT"
)


def config_digest(config: Config) -> str:
    """A digest of the whole configuration; the salt enters only as its own digest."""
    settings = dataclasses.asdict(config)
    salt = settings["privacy"]["pseudonym_salt"]
    settings["privacy"]["pseudonym_salt"] = hashlib.sha256(salt.encode()).hexdigest()
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def record_start(ctx: RunContext, command: str, target: str) -> None:
    """Mark runs left `running` by a killed process as interrupted, then record this one."""
    ctx.ensure(RUNS, RUN_TABLES)
    stale = ctx.table(RUNS).where(F.col("status") == "running").collect()
    rows = [{**row.asDict(), "status": "interrupted"} for row in stale]
    rows.append(
        {
            "run_id": ctx.run_id,
            "command": command,
            "target": target,
            "status": "running",
            "started_at": ctx.started_at,
            "ended_at": None,
            "config_digest": config_digest(ctx.config),
            "error": None,
        }
    )
    _write_runs(ctx, rows)


def record_end(
    ctx: RunContext,
    command: str,
    target: str,
    results: list[TableResult],
    error: BaseException | None = None,
) -> None:
    if results:
        tables = [
            (
                ctx.run_id,
                r.table,
                r.version_before,
                r.version,
                r.read,
                r.inserted,
                r.updated,
                r.deleted,
                r.quarantined,
            )
            for r in results
        ]
        ctx.merge(ctx.spark.createDataFrame(tables, RUN_TABLE_SCHEMA), RUN_TABLES)
    ended: dict[str, object] = {
        "run_id": ctx.run_id,
        "command": command,
        "target": target,
        "status": _status(error),
        "started_at": ctx.started_at,
        "ended_at": datetime.now(UTC),
        "config_digest": config_digest(ctx.config),
        "error": f"{type(error).__name__}: {error}"[:2000] if error else None,
    }
    _write_runs(ctx, [ended])


def _status(error: BaseException | None) -> str:
    if error is None:
        return "succeeded"
    return "interrupted" if isinstance(error, Interrupted) else "failed"


def _write_runs(ctx: RunContext, rows: list[dict[str, object]]) -> None:
    columns = [part.split()[0] for part in RUN_SCHEMA.split(", ")]
    frame = ctx.spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], RUN_SCHEMA)
    ctx.merge(frame, RUNS)

"""The run log (`ops.runs`, `ops.run_tables`): which run changed which table, and how.

Written through the same MERGE path as every table, so it is a Delta table with its own
history. It never holds personal data: erasures record a digest, not the email.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime

from pyspark.sql import functions as F

from lakehouse.core.config import Config
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.interrupt import Interrupted
from lakehouse.core.ops_tables import ERASURES, RULE_RESULTS, RUN_TABLES, RUNS


def config_digest(config: Config) -> str:
    """A digest of the whole configuration; the salt enters only as its own digest."""
    settings = dataclasses.asdict(config)
    salt = settings["privacy"]["pseudonym_salt"]
    settings["privacy"]["pseudonym_salt"] = hashlib.sha256(salt.encode()).hexdigest()
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def record_start(ctx: RunContext, command: str, target: str) -> None:
    """Mark runs left `running` by a killed process as interrupted, then record this one."""
    ctx.ensure(RUNS, RUN_TABLES, RULE_RESULTS, ERASURES)  # before Glue publishes the tables
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
        ctx.merge(ctx.spark.createDataFrame(tables, RUN_TABLES.row_schema), RUN_TABLES)
    if ctx.rule_outcomes:
        _write_rule_results(ctx)
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


def _write_rule_results(ctx: RunContext) -> None:
    rows = [
        (
            ctx.run_id,
            o.table,
            o.rule.name,
            str(o.rule.check),
            str(o.rule.action),
            o.rule.describe(),
            o.rows_checked,
            o.rows_failing,
            o.outcome,
            o.detail or None,
        )
        for o in ctx.rule_outcomes
    ]
    ctx.ensure(RULE_RESULTS)
    ctx.merge(ctx.spark.createDataFrame(rows, RULE_RESULTS.row_schema), RULE_RESULTS)


def _status(error: BaseException | None) -> str:
    if error is None:
        return "succeeded"
    return "interrupted" if isinstance(error, Interrupted) else "failed"


def _write_runs(ctx: RunContext, rows: list[dict[str, object]]) -> None:
    columns = RUNS.column_names
    frame = ctx.spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], RUNS.row_schema)
    ctx.merge(frame, RUNS)

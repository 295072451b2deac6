"""Applying a table's rules to the rows a run is about to write (see `expectations`).

Row checks judge the new content: `warn` counts, `drop` keeps failing rows out of the table and
puts them in the quarantine, `fail` stops before the commit. With `run --test` the table checks
also judge the table as the MERGE would leave it, still before the commit. Every judgement is
kept in the run context for the run log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableResult, source_rows
from lakehouse.core.expectations import (
    any_dropped,
    dropped_reason,
    failing_counts,
    judge_table,
    table_after,
    with_rule_flags,
)
from lakehouse.core.rules import Action, Check, RuleFailed, RuleOutcome


@dataclass(frozen=True)
class Enforced:
    """The content to write, and what dropping rows into the quarantine did."""

    content: DataFrame
    dropped: int = 0
    quarantine: TableResult | None = None
    # The rules counted no row in the content: the write has nothing to add.
    empty: bool = False


def enforce(
    ctx: RunContext, table: TableSpec, content: DataFrame, scope: DataFrame | None
) -> Enforced:
    """Judge `content` (the rows a MERGE with `scope` will write) by the table's rules.

    Raises `RuleFailed` when a `fail` rule finds rows; nothing is written then.
    """
    rules = ctx.options.rules.get(table.qualified_name, ())
    row_rules = [rule for rule in rules if rule.row_check]
    table_rules = [rule for rule in rules if not rule.row_check and ctx.options.test]
    if not row_rules and not table_rules:
        return _quarantined(ctx, table, content, None, rebuilt=scope is None)
    name = table.qualified_name
    outcomes: list[RuleOutcome] = []
    dropping = None
    checked = None
    if row_rules:
        parents = {
            rule.to: ctx.spark.table(rule.to)
            for rule in row_rules
            if rule.check == Check.relationship
        }
        # Judged, dropped and written from one copy: the content is a chain of joins.
        flagged = ctx.shared(
            f"rules.{name}", lambda: content.transform(with_rule_flags(row_rules, parents))
        )
        checked, failing = failing_counts(flagged, row_rules)
        outcomes = [
            RuleOutcome(name, rule, checked, count)
            for rule, count in zip(row_rules, failing, strict=True)
        ]
        content = flagged.where(~any_dropped(row_rules)).select(*content.columns)
        if any(o.rule.action == Action.drop and not o.passed for o in outcomes):
            dropping = flagged.where(any_dropped(row_rules)).select(
                F.to_json(F.struct(*content.columns)).alias("raw"),
                dropped_reason(row_rules).alias("reason"),
            )
    if table_rules:
        target = ctx.spark.table(name)
        after = table_after(target, content, table.keys, scope)
        outcomes += judge_table(table_rules, name, after, target.count())
    ctx.rule_outcomes.extend(outcomes)
    if any(o.outcome == "failed" for o in outcomes):
        raise RuleFailed(name, outcomes)
    enforced = _quarantined(ctx, table, content, dropping, rebuilt=scope is None)
    return replace(enforced, empty=checked == 0)


def _quarantined(
    ctx: RunContext,
    table: TableSpec,
    content: DataFrame,
    dropping: DataFrame | None,
    *,
    rebuilt: bool,
) -> Enforced:
    """`content`, with the rows the drop rules dropped (`dropping`) put in the quarantine.

    A table rebuilt in full has had every row judged again, so its quarantined rows become
    exactly this run's drops: rows a relaxed or removed rule lets through leave the quarantine
    (they are back in the table), instead of being listed as dropped forever.
    """
    quarantine = ctx.options.quarantine
    rejudged = rebuilt and quarantine is not None and _holds_drops(ctx, quarantine, table)
    if dropping is None and not rejudged:
        return Enforced(content)
    if quarantine is None:
        raise ValueError("a drop rule needs a quarantine table (RunOptions.quarantine)")
    if dropping is None:
        dropping = ctx.spark.createDataFrame([], "raw string, reason string")
    ctx.ensure(quarantine)
    # One line per dropped row, keyed by its content: dropping it again changes nothing.
    rows = dropping.select(
        F.lit(table.qualified_name).alias("source"),
        F.lit(table.qualified_name).alias("source_file"),
        F.sha2(F.col("raw"), 256).alias("source_checksum"),
        F.lit(0).alias("source_line"),
        "raw",
        "reason",
        F.lit(ctx.batches.newest).cast("bigint").alias("batch"),
        F.lit(ctx.run_id).alias("ingestion_run_id"),
        F.lit(ctx.started_at).alias("ingested_at"),
    )
    # The scope: this table's dropped rows, which the rows given replace when it was rebuilt.
    scope = ctx.spark.createDataFrame([(table.qualified_name,)], "source string")
    merge = ctx.merge(rows, quarantine, scope=scope if rejudged else None)
    result = TableResult.of(merge, read=source_rows(merge, rows))
    return Enforced(content, dropped=result.read, quarantine=result)


def _holds_drops(ctx: RunContext, quarantine: TableSpec, table: TableSpec) -> bool:
    if quarantine.qualified_name not in ctx.ensured:
        return False
    held = ctx.spark.table(quarantine.qualified_name)
    return held.where(F.col("source") == table.qualified_name).limit(1).count() > 0

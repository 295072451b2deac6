"""`lakehouse test`: every data-quality rule judged on the tables as they are, or were.

Each rule judges the whole table (at a run, a time or a version with `--as-of`); a
relationship reads its parent at the same point, and `row_count_change` compares the table's
version with the one before it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import SparkSession

from lakehouse.core.catalog import table_location
from lakehouse.core.delta_log import table_version
from lakehouse.core.expectations import judge_rows, judge_table
from lakehouse.core.rules import Action, Check, Rule, RuleOutcome
from lakehouse.core.timetravel import AsOf, AsOfError, read_as_of, version_at


def check_tables(
    spark: SparkSession,
    warehouse: str,
    rules: Mapping[str, tuple[Rule, ...]],
    tables: list[str],
    as_of: AsOf | None = None,
) -> list[RuleOutcome]:
    """The outcome of every rule of every table named in `tables` that has rules."""
    if as_of is not None and as_of.version is not None:
        _one_table_only(rules, tables, as_of)
    outcomes: list[RuleOutcome] = []
    for name in tables:
        table_rules = rules.get(name, ())
        if not table_rules:
            continue
        rows = read_as_of(spark, warehouse, name, as_of)
        parents = {
            rule.to: read_as_of(spark, warehouse, rule.to, as_of)
            for rule in table_rules
            if rule.check == Check.relationship
        }
        outcomes += judge_rows(table_rules, name, rows, parents)
        before = _count_before(spark, warehouse, name, as_of)
        outcomes += judge_table(table_rules, name, rows, before)
    return outcomes


def _one_table_only(rules: Mapping[str, tuple[Rule, ...]], tables: list[str], as_of: AsOf) -> None:
    # A version number is one table's: read at another table (a second table tested, or a
    # relationship's parent) it would name an unrelated point of that table's history.
    read = {name for name in tables if rules.get(name)} | {
        rule.to
        for name in tables
        for rule in rules.get(name, ())
        if rule.check == Check.relationship and rule.to
    }
    if len(read) > 1:
        raise AsOfError(
            f"--as-of {as_of.version} is one table's version, and these rules read "
            f"{len(read)} tables ({', '.join(sorted(read))}): give a run id (`lakehouse runs`) "
            "or a timestamp to read them all at one moment"
        )


def failed(outcomes: list[RuleOutcome]) -> list[RuleOutcome]:
    """Outcomes that fail a test: a `fail` rule that found rows, and a `drop` rule that finds
    rows the table should never have held (rows a run writes are dropped before)."""
    return [o for o in outcomes if not o.passed and o.rule.action != Action.warn]


def _count_before(spark: SparkSession, warehouse: str, name: str, as_of: AsOf | None) -> int | None:
    """Rows in the version before the one judged (None: none, or no longer readable)."""
    if as_of is None:
        version = table_version(table_location(warehouse, name))
    else:
        version = version_at(warehouse, name, as_of)
    if not version:
        return None
    try:
        return read_as_of(
            spark, warehouse, name, AsOf(f"version {version - 1}", version - 1)
        ).count()
    except AsOfError:
        return None

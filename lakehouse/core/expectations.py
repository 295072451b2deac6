"""Data-quality rules judged on the engine: the rows a run writes, and tables as they are.

What a rule is and how rules files are read is `lakehouse.core.rules` (no engine needed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.core.rules import Action, Check, Rule, RuleOutcome

# --- judging rows --------------------------------------------------------------------------


def flag_column(index: int) -> str:
    return f"_rule_failed_{index}"


def with_rule_flags(
    rules: Sequence[Rule], parents: Mapping[str, DataFrame]
) -> Callable[[DataFrame], DataFrame]:
    """Adds one boolean column per row rule (`flag_column(i)`): true where row i's rule fails.

    `parents` holds the tables relationships point to.
    """

    def transform(rows: DataFrame) -> DataFrame:
        columns = rows.columns
        flagged = rows
        for index, rule in enumerate(rules):
            flag = flag_column(index)
            if rule.check == Check.relationship:
                flagged = _with_missing_parent(flagged, rule, parents[rule.to], flag)
            else:
                flagged = flagged.withColumn(flag, _fails(rule))
        return flagged.select(*columns, *(flag_column(i) for i in range(len(rules))))

    return transform


def _fails(rule: Rule) -> Column:
    column = F.col(rule.columns[0])
    match rule.check:
        case Check.not_null:
            return reduce(lambda a, b: a | b, [F.col(c).isNull() for c in rule.columns])
        case Check.accepted_values:
            return F.coalesce(~column.isin(*rule.values), F.lit(False))
        case Check.range:
            low = column < rule.minimum if rule.minimum is not None else F.lit(False)
            high = column > rule.maximum if rule.maximum is not None else F.lit(False)
            return F.coalesce(low | high, F.lit(False))
    raise ValueError(f"{rule.check} is not judged row by row")


def _with_missing_parent(rows: DataFrame, rule: Rule, parent: DataFrame, flag: str) -> DataFrame:
    found = f"{flag}_found"
    keys = (
        parent.select(
            *[F.col(t).alias(c) for c, t in zip(rule.columns, rule.to_columns, strict=True)]
        )
        .distinct()
        .withColumn(found, F.lit(True))
    )
    complete = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in rule.columns])
    return (
        rows.join(keys, list(rule.columns), "left")
        .withColumn(flag, complete & F.col(found).isNull())
        .drop(found)
    )


def failing_counts(flagged: DataFrame, rules: Sequence[Rule]) -> tuple[int, list[int]]:
    """(rows, failing rows per rule) of a flagged frame, in one pass."""
    sums = [F.sum(F.col(flag_column(i)).cast("long")) for i in range(len(rules))]
    row = flagged.agg(F.count(F.lit(1)), *sums).first()
    assert row is not None
    return int(row[0]), [int(value or 0) for value in row[1:]]


def dropped_reason(rules: Sequence[Rule]) -> Column:
    """Why a row was dropped: every drop rule it fails, `rule <name>: <what it requires>`."""
    return F.concat_ws(
        "; ",
        *[
            F.when(F.col(flag_column(i)), F.lit(f"rule {rule.name}: {rule.describe()}"))
            for i, rule in enumerate(rules)
            if rule.action == Action.drop
        ],
    )


def any_dropped(rules: Sequence[Rule]) -> Column:
    flags = [F.col(flag_column(i)) for i, r in enumerate(rules) if r.action == Action.drop]
    return reduce(lambda a, b: a | b, flags, F.lit(False))


# --- judging tables ------------------------------------------------------------------------


def duplicate_rows(rows: DataFrame, columns: Sequence[str]) -> int:
    """Rows sharing their values of `columns` with another row (NULLs never duplicate)."""
    complete = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in columns])
    groups = rows.where(complete).groupBy(*columns).count().where(F.col("count") > 1)
    total = groups.agg(F.sum("count")).first()
    return int(total[0] or 0) if total else 0


def row_count_change_fails(rule: Rule, before: int, after: int) -> bool:
    if before == 0:
        return False  # a first build has nothing to compare with
    change = (after - before) / before * 100
    down, up = rule.max_decrease_percent, rule.max_increase_percent
    return (down is not None and -change > down) or (up is not None and change > up)


def table_after(
    target: DataFrame, content: DataFrame, keys: Sequence[str], scope: DataFrame | None
) -> DataFrame:
    """The table as a MERGE of `content` would leave it (see `merge.merge_into`): without a
    scope, `content` is the whole new table; with one, the rows outside the scope whose keys
    `content` does not hold stay beside `content`."""
    if scope is None:
        return content
    kept = target.join(scope, scope.columns, "left_anti").join(
        content.select(*keys), list(keys), "left_anti"
    )
    return kept.unionByName(content.select(*target.columns))


def judge_table(
    rules: Sequence[Rule], table: str, rows: DataFrame, before_count: int | None
) -> list[RuleOutcome]:
    """The table checks of `rules` on `rows` (the table as it is or would be); `before_count`
    is the row count row_count_change compares with (None: nothing to compare with)."""
    outcomes = []
    count: int | None = None
    for rule in rules:
        if rule.check == Check.unique:
            count = rows.count() if count is None else count
            outcomes.append(RuleOutcome(table, rule, count, duplicate_rows(rows, rule.columns)))
        elif rule.check == Check.row_count_change:
            count = rows.count() if count is None else count
            before = before_count or 0
            fails = row_count_change_fails(rule, before, count)
            detail = f"{before} -> {count} rows"
            outcomes.append(RuleOutcome(table, rule, count, int(fails), detail))
    return outcomes


def judge_rows(
    rules: Sequence[Rule], table: str, rows: DataFrame, parents: Mapping[str, DataFrame]
) -> list[RuleOutcome]:
    """The row checks of `rules` on `rows`, counted in one pass."""
    row_rules = [rule for rule in rules if rule.row_check]
    if not row_rules:
        return []
    checked, failing = failing_counts(
        rows.transform(with_rule_flags(row_rules, parents)), row_rules
    )
    return [RuleOutcome(table, r, checked, n) for r, n in zip(row_rules, failing, strict=True)]

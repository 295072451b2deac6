"""Data-quality rules (expectations), declared per table beside its DDL: what they are and
how they are read (`expectations` judges rows with them, on the engine).

A table's rules live in `<package>/sql/<table>.rules.yaml` (or, to replace them without editing
the package, in `<quality.rules_dir>/<schema>.<table>.rules.yaml`):

    rules:
      - name: one_row_per_pseudonym
        unique: [customer_key]
        action: fail

Checks: `not_null: [columns]`, `unique: [columns]`, `accepted_values: {column, values}`,
`range: {column, min, max}`, `relationship: {columns, to, to_columns}` (every row's columns
name a row of table `to`), `row_count_change: {max_decrease_percent, max_increase_percent}`.
NULLs pass every check but `not_null` (as in dbt). Actions:
- `warn`: counted and reported;
- `drop`: the failing rows are not written; they go to `bronze.quarantine` with the rule's name
  (row checks only: a duplicate or a row count has no single row to drop);
- `fail`: the table is not committed, and the tables built from it are not built.

Row checks judge the rows a run writes, before they are written. Table checks (`unique`,
`row_count_change`) judge the table as the run would leave it, and run with `lakehouse run
--test`; `lakehouse test` checks every rule on the tables as they are (or were).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import ConfigError


class RulesError(ConfigError):
    """A rules file that cannot be used: the message names the file, the rule and the fix."""


class Check(StrEnum):
    not_null = "not_null"
    unique = "unique"
    accepted_values = "accepted_values"
    range = "range"
    relationship = "relationship"
    row_count_change = "row_count_change"


class Action(StrEnum):
    warn = "warn"
    drop = "drop"
    fail = "fail"


TABLE_CHECKS = frozenset({Check.unique, Check.row_count_change})
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Rule:
    name: str
    check: Check
    action: Action
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    to: str = ""
    to_columns: tuple[str, ...] = ()
    max_decrease_percent: float | None = None
    max_increase_percent: float | None = None

    @property
    def row_check(self) -> bool:
        """Judged row by row (so a failing row can be dropped)."""
        return self.check not in TABLE_CHECKS

    def describe(self) -> str:
        cols = ", ".join(self.columns)
        match self.check:
            case Check.not_null:
                return f"{cols} not null"
            case Check.unique:
                return f"{cols} unique"
            case Check.accepted_values:
                return f"{cols} in ({', '.join(map(str, self.values))})"
            case Check.range:
                low = "" if self.minimum is None else f"{self.minimum:g} <= "
                high = "" if self.maximum is None else f" <= {self.maximum:g}"
                return f"{low}{cols}{high}"
            case Check.relationship:
                return f"({cols}) found in {self.to} ({', '.join(self.to_columns)})"
            case Check.row_count_change:
                down = self.max_decrease_percent
                up = self.max_increase_percent
                limits = [f"-{down:g}%" if down is not None else "", f"+{up:g}%" if up else ""]
                return "row count changes within " + " / ".join(x for x in limits if x)


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule found in one table: rows judged and rows failing."""

    table: str
    rule: Rule
    rows_checked: int
    rows_failing: int
    # For row_count_change: the counts compared (before -> after).
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.rows_failing == 0

    @property
    def outcome(self) -> str:
        if self.passed:
            return "passed"
        return {Action.warn: "warned", Action.drop: "dropped", Action.fail: "failed"}[
            self.rule.action
        ]


@dataclass
class RuleFailed(Exception):
    """A `fail` rule found rows: the table was not committed."""

    table: str
    outcomes: list[RuleOutcome] = field(default_factory=list)

    def __str__(self) -> str:
        failed = [o for o in self.outcomes if o.outcome == "failed"]
        return f"{self.table}: " + "; ".join(
            f"rule {o.rule.name} ({o.rule.describe()}) failed on {o.rows_failing} rows"
            for o in failed
        )


# --- reading rules files -------------------------------------------------------------------


def rules_file_name(table: TableSpec) -> str:
    return f"{table.qualified_name}.rules.yaml"


def load_rules(
    table: TableSpec, known: Mapping[str, TableSpec], rules_dir: str = ""
) -> tuple[Rule, ...]:
    """The table's rules: from `rules_dir` when it has a file for the table, else shipped."""
    text, where = _rules_text(table, rules_dir)
    if text is None:
        return ()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RulesError(f"{where}: not valid YAML ({_first_line(error)})") from None
    items = (document or {}).get("rules", []) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise RulesError(f"{where}: expected `rules:` followed by a list of rules")
    rules = tuple(
        parse_rule(item, table, known, f"{where}, rule {i + 1}") for i, item in enumerate(items)
    )
    names = [rule.name for rule in rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RulesError(f"{where}: rule names must be unique, repeated: {', '.join(repeated)}")
    return rules


def check_rules_dir(rules_dir: str, known: Iterable[str]) -> None:
    """Refuse a YAML file in `rules_dir` that names no table: a misspelt name would otherwise
    be ignored silently, and the shipped rules judged instead of the user's."""
    if not rules_dir:
        return
    expected = {f"{name}.rules.yaml" for name in known}
    strays = sorted(
        path.name
        for path in Path(rules_dir).iterdir()
        if path.suffix in (".yaml", ".yml") and path.name not in expected
    )
    if strays:
        raise RulesError(
            f"{Path(rules_dir) / strays[0]} names no table"
            + (f" (nor do {len(strays) - 1} more)" if len(strays) > 1 else "")
            + ": rules files are <schema>.<table>.rules.yaml for one of "
            + ", ".join(sorted(name.removesuffix(".rules.yaml") for name in expected))
        )


def _rules_text(table: TableSpec, rules_dir: str) -> tuple[str | None, str]:
    if rules_dir:
        replaced = Path(rules_dir) / rules_file_name(table)
        if replaced.is_file():
            return _utf8(replaced.read_bytes(), str(replaced)), str(replaced)
    shipped = resources.files(table.package or table.schema).joinpath(
        "sql", f"{table.name}.rules.yaml"
    )
    if shipped.is_file():
        where = f"{table.package or table.schema}/sql/{table.name}.rules.yaml"
        return _utf8(shipped.read_bytes(), where), where
    return None, ""


def _utf8(data: bytes, where: str) -> str:
    # Decoded explicitly: the platform's default encoding would read another machine's file
    # differently, and a decoding error would surface as a traceback.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RulesError(
            f"{where}: not UTF-8 text (byte {error.start} is {data[error.start]:#04x}): "
            "save it as UTF-8"
        ) from None


def parse_rule(item: object, table: TableSpec, known: Mapping[str, TableSpec], where: str) -> Rule:
    """One rule from its YAML mapping, checked against the table's and the referenced table's
    columns."""
    if not isinstance(item, dict):
        raise RulesError(f"{where}: a rule is a mapping with name, one check and action")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise RulesError(f"{where}: give it a `name:` of lower-case letters, digits and _")
    where = f"{where} ({name})"
    checks = [key for key in item if key in Check.__members__]
    unknown = sorted(set(item) - {"name", "action", *Check.__members__})
    if unknown or len(checks) != 1:
        raise RulesError(
            f"{where}: needs exactly one check of {', '.join(Check)}"
            + (f"; unknown keys: {', '.join(unknown)}" if unknown else "")
        )
    check = Check(checks[0])
    action_text = item.get("action")
    if action_text not in Action.__members__:
        raise RulesError(f"{where}: `action:` must be warn, drop or fail, not {action_text!r}")
    action = Action(str(action_text))
    if action == Action.drop and check in TABLE_CHECKS:
        raise RulesError(f"{where}: {check} judges the whole table, so it cannot drop rows")
    rule = _rule_of(name, check, action, item[check], where)
    _check_columns(rule.columns, table, where)
    if check == Check.relationship:
        parent = known.get(rule.to)
        if parent is None:
            raise RulesError(f"{where}: relationship to unknown table {rule.to!r}")
        _check_columns(rule.to_columns, parent, where)
        if len(rule.to_columns) != len(rule.columns):
            raise RulesError(f"{where}: columns and to_columns must pair up one to one")
    return rule


def _rule_of(name: str, check: Check, action: Action, spec: Any, where: str) -> Rule:
    def columns(value: Any) -> tuple[str, ...]:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
            raise RulesError(f"{where}: name the columns as a list, e.g. [email]")
        return tuple(value)

    def mapping(*required: str) -> dict[str, Any]:
        if not isinstance(spec, dict) or any(key not in spec for key in required):
            raise RulesError(f"{where}: {check} needs {', '.join(required)}")
        return spec

    def number(value: Any, key: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulesError(f"{where}: {key} must be a number, not {value!r}")
        return float(value)

    match check:
        case Check.not_null | Check.unique:
            return Rule(name, check, action, columns(spec))
        case Check.accepted_values:
            given = mapping("column", "values")
            values = given["values"]
            if not isinstance(values, list) or not values:
                raise RulesError(f"{where}: values must be a non-empty list")
            return Rule(name, check, action, columns(given["column"]), values=tuple(values))
        case Check.range:
            given = mapping("column")
            low, high = number(given.get("min"), "min"), number(given.get("max"), "max")
            if low is None and high is None:
                raise RulesError(f"{where}: range needs min, max or both")
            return Rule(name, check, action, columns(given["column"]), minimum=low, maximum=high)
        case Check.relationship:
            given = mapping("columns", "to")
            own = columns(given["columns"])
            theirs = columns(given.get("to_columns", given["columns"]))
            return Rule(name, check, action, own, to=str(given["to"]), to_columns=theirs)
        case Check.row_count_change:
            given = mapping()
            down = number(given.get("max_decrease_percent"), "max_decrease_percent")
            up = number(given.get("max_increase_percent"), "max_increase_percent")
            if down is None and up is None:
                raise RulesError(
                    f"{where}: row_count_change needs max_decrease_percent, "
                    "max_increase_percent or both"
                )
            return Rule(name, check, action, max_decrease_percent=down, max_increase_percent=up)


def _check_columns(columns: Sequence[str], table: TableSpec, where: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise RulesError(
            f"{where}: {table.qualified_name} has no column {', '.join(missing)} "
            f"(its columns: {', '.join(table.column_names)})"
        )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]

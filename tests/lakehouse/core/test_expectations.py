"""Data-quality rules: reading rules files, judging rows and tables (tiny inline frames)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from gold.tables import MACHINE_LEARNING_CURATED
from lakehouse.app.tables import TABLES
from lakehouse.core.expectations import (
    duplicate_rows,
    failing_counts,
    flag_column,
    judge_rows,
    row_count_change_fails,
    table_after,
    with_rule_flags,
)
from lakehouse.core.rules import Action, Check, Rule, RulesError, load_rules, parse_rule
from silver.tables import CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from tests.helpers import rows

KNOWN = {table.qualified_name: table for table in TABLES}


def rule(item: dict[str, object], table=STEP_TRAINER_TRUSTED) -> Rule:  # type: ignore[no-untyped-def]
    return parse_rule(item, table, KNOWN, "test")


def test_every_shipped_rules_file_parses() -> None:
    shipped = {name: load_rules(table, KNOWN) for name, table in KNOWN.items()}
    assert {name for name, found in shipped.items() if found} == {
        "silver.customer_trusted",
        "silver.accelerometer_trusted",
        "silver.step_trainer_trusted",
        "gold.customer_curated",
        "gold.machine_learning_curated",
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "x", "not_null": ["nope"], "action": "fail"}, "has no column nope"),
        ({"name": "x", "unique": ["serialNumber"], "action": "drop"}, "cannot drop rows"),
        ({"name": "x", "not_null": ["serialNumber"]}, "must be warn, drop or fail"),
        ({"name": "x", "action": "warn"}, "exactly one check"),
        ({"name": "x", "not_nul": ["serialNumber"], "action": "warn"}, "unknown keys: not_nul"),
        ({"name": "Bad Name", "not_null": ["serialNumber"], "action": "warn"}, "name"),
        ({"name": "x", "range": {"column": "distanceFromObject"}, "action": "warn"}, "min, max"),
        (
            {"name": "x", "range": {"column": "serialNumber", "min": "a"}, "action": "warn"},
            "number",
        ),
        (
            {
                "name": "x",
                "relationship": {"columns": ["serialNumber"], "to": "silver.nope"},
                "action": "fail",
            },
            "unknown table",
        ),
        (
            {
                "name": "x",
                "relationship": {
                    "columns": ["serialNumber"],
                    "to": "silver.customer_trusted",
                    "to_columns": ["email", "phone"],
                },
                "action": "fail",
            },
            "pair up",
        ),
    ],
)
def test_a_rule_that_cannot_be_used_says_what_to_fix(item: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError, match=message):
        rule(item)


def test_a_rules_dir_file_replaces_the_shipped_rules_and_bad_yaml_names_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "silver.step_trainer_trusted.rules.yaml").write_text(
        "rules:\n  - name: small\n    range: {column: distanceFromObject, max: 10}\n"
        "    action: drop\n"
    )
    (replaced,) = load_rules(STEP_TRAINER_TRUSTED, KNOWN, str(tmp_path))
    assert (replaced.check, replaced.action, replaced.maximum) == (Check.range, Action.drop, 10)
    assert load_rules(CUSTOMER_TRUSTED, KNOWN, str(tmp_path))  # no file there: shipped rules
    (tmp_path / "silver.customer_trusted.rules.yaml").write_text("rules: [oops: {")
    with pytest.raises(RulesError, match=r"silver\.customer_trusted\.rules\.yaml: not valid YAML"):
        load_rules(CUSTOMER_TRUSTED, KNOWN, str(tmp_path))
    (tmp_path / "silver.customer_trusted.rules.yaml").write_text(
        "rules:\n  - {name: a, not_null: [email], action: warn}\n"
        "  - {name: a, not_null: [phone], action: warn}\n"
    )
    with pytest.raises(RulesError, match="repeated: a"):
        load_rules(CUSTOMER_TRUSTED, KNOWN, str(tmp_path))


def test_row_rules_flag_failing_rows_and_nulls_pass_all_but_not_null(spark: SparkSession) -> None:
    steps = spark.createDataFrame(
        [("r1", 1, "S", 5), ("r2", 2, "S", -1), ("r3", 3, None, None), ("r4", 4, "T", 7)],
        "reading_id STRING, sensorReadingTime BIGINT, serialNumber STRING, distanceFromObject INT",
    )
    customers = spark.createDataFrame([("S",)], "serialNumber STRING")
    checks = [
        rule({"name": "serial", "not_null": ["serialNumber"], "action": "fail"}),
        rule(
            {
                "name": "positive",
                "range": {"column": "distanceFromObject", "min": 0},
                "action": "drop",
            }
        ),
        rule(
            {
                "name": "known",
                "accepted_values": {"column": "serialNumber", "values": ["S"]},
                "action": "warn",
            }
        ),
        rule(
            {
                "name": "owned",
                "relationship": {"columns": ["serialNumber"], "to": "silver.customer_trusted"},
                "action": "warn",
            }
        ),
    ]
    flagged = steps.transform(with_rule_flags(checks, {"silver.customer_trusted": customers}))
    assert rows(flagged, "reading_id", *(flag_column(i) for i in range(4))) == [
        ("r1", False, False, False, False),
        ("r2", False, True, False, False),
        ("r3", True, False, False, False),
        ("r4", False, False, True, True),
    ]
    assert failing_counts(flagged, checks) == (4, [1, 1, 1, 1])
    assert flagged.columns[:4] == steps.columns  # the table's own columns, in order
    outcomes = judge_rows(
        checks, "silver.step_trainer_trusted", steps, {"silver.customer_trusted": customers}
    )
    assert [(o.rule.name, o.outcome) for o in outcomes] == [
        ("serial", "failed"),
        ("positive", "dropped"),
        ("known", "warned"),
        ("owned", "warned"),
    ]


def test_table_after_is_what_a_scoped_merge_leaves(spark: SparkSession) -> None:
    schema = "k STRING, who STRING, v INT"
    target = spark.createDataFrame([("1", "a", 1), ("2", "a", 2), ("3", "b", 3)], schema)
    content = spark.createDataFrame([("2", "a", 20), ("4", "b", 4)], schema)
    scope = spark.createDataFrame([("a",)], "who STRING")
    # a's rows are replaced by a's content; b keeps 3 and gains 4.
    after = table_after(target, content, ["k"], scope)
    assert rows(after) == [("2", "a", 20), ("3", "b", 3), ("4", "b", 4)]
    assert rows(table_after(target, content, ["k"], None)) == rows(content)


def test_duplicates_ignore_nulls_and_row_count_change_has_limits(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("a",), ("a",), (None,), (None,), ("b",)], "c STRING")
    assert duplicate_rows(frame, ["c"]) == 2
    shrink = rule(
        {"name": "n", "row_count_change": {"max_decrease_percent": 50}, "action": "warn"},
        MACHINE_LEARNING_CURATED,
    )
    assert not row_count_change_fails(shrink, 0, 0)  # first build
    assert not row_count_change_fails(shrink, 100, 50)
    assert row_count_change_fails(shrink, 100, 49)
    assert not row_count_change_fails(shrink, 100, 1000)

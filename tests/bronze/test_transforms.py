from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession

from bronze.transforms import (
    ACCELEROMETER_FIELDS,
    NOT_AN_EMAIL,
    STEP_TRAINER_FIELDS,
    parse_records,
    quarantined_lines,
    valid_records,
    with_ingestion,
)
from lakehouse.core.landing import LINES_SCHEMA as LINES
from tests.helpers import rows


def parse_accelerometer(spark: SparkSession, *lines: str):  # type: ignore[no-untyped-def]
    frame = spark.createDataFrame(
        [("f.json", "c1", i, line, None) for i, line in enumerate(lines, 1)], LINES
    )
    return frame.transform(parse_records(ACCELEROMETER_FIELDS))


def test_valid_lines_are_typed_and_both_timestamp_spellings_are_read(spark: SparkSession) -> None:
    parsed = parse_accelerometer(
        spark,
        '{"user":"a@x","timestamp":1655564444000,"x":1,"y":-0.5,"z":"2.25"}',
        '{"user":"b@x","timeStamp":1655564445000,"x":0.1,"y":0.2,"z":0.3}',
    )
    valid = parsed.transform(valid_records(ACCELEROMETER_FIELDS))
    assert dict(valid.dtypes) == {
        "user": "string",
        "timestamp": "bigint",
        "x": "double",
        "y": "double",
        "z": "double",
        "_source_file": "string",
        "_source_checksum": "string",
        "_source_line": "int",
        "_rescued_data": "string",
    }
    assert rows(valid) == [
        ("a@x", 1655564444000, 1.0, -0.5, 2.25, "f.json", "c1", 1, None),
        ("b@x", 1655564445000, 0.1, 0.2, 0.3, "f.json", "c1", 2, None),
    ]


def test_every_bad_line_is_quarantined_with_its_reason(spark: SparkSession) -> None:
    parsed = parse_accelerometer(
        spark,
        "garbage",
        '{"user":"a@x","timestamp":1,"x":1.0,"y":2',
        "",
        '{"user":"a@x","timestamp":7.5,"x":1,"y":2,"z":3}',
        '{"user":"a@x","timestamp":1,"x":"abc","y":2,"z":3}',
        '{"user":"a@x","timestamp":1,"y":2,"z":3}',
        "[1, 2]",
        '{"user":"a@x","timestamp":1,"x":1,"y":2,"z":3}',
    )
    bad = parsed.transform(quarantined_lines("accelerometer"))
    assert rows(bad, "source_line", "reason") == [
        (1, "malformed JSON"),
        (2, "malformed JSON"),
        (3, "empty line"),
        (4, "'timestamp' is not a valid bigint"),
        (5, "'x' is not a valid double"),
        (6, "missing required field 'x'"),
        (7, "malformed JSON"),
    ]
    assert rows(bad, "source", "raw")[0] == ("accelerometer", "")
    assert parsed.transform(valid_records(ACCELEROMETER_FIELDS)).count() == 1


def test_a_fractional_distance_is_not_an_int(spark: SparkSession) -> None:
    line = '{"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":7.5}'
    frame = spark.createDataFrame(
        [("s.json", "c1", 1, line, None)],
        LINES,
    )
    bad = frame.transform(parse_records(STEP_TRAINER_FIELDS)).transform(quarantined_lines("step"))
    assert rows(bad, "reason") == [("'distanceFromObject' is not a valid int",)]


def test_ingestion_stamp(spark: SparkSession) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5)
    frame = spark.createDataFrame([(1,)], "n INT").transform(with_ingestion(4, "run-1", at))
    assert rows(frame, "_batch", "_ingestion_run_id") == [(4, "run-1")]
    assert dict(frame.dtypes)["_ingested_at"] == "timestamp"


def test_unknown_keys_are_rescued_and_a_trailing_comma_is_repaired(spark: SparkSession) -> None:
    parsed = parse_accelerometer(
        spark,
        '{"user":"a@x","timestamp":1,"x":1,"y":2,"z":3,"Email":"A@x","extra":[1]},',
        '{"user":"a@x","timeStamp":2,"x":1,"y":2,"z":3}',
    )
    assert rows(parsed, "source_line", "_rescued_data", "_repaired", "_reason") == [
        (1, '{"Email":"A@x","extra":"[1]"}', True, None),
        (2, None, False, None),  # the old spelling is a known key, not a rescued one
    ]


def test_values_that_only_look_valid_are_refused(spark: SparkSession) -> None:
    parsed = parse_accelerometer(
        spark,
        '{"user":"  ","timestamp":1,"x":1,"y":2,"z":3}',
        '{"user":true,"timestamp":1,"x":1,"y":2,"z":3}',
        '{"user":"a@x","timestamp":1,"x":"NaN","y":2,"z":3}',
        '{"user":" A@X ","timestamp":1,"x":1,"y":2,"z":3}',
    )
    assert rows(parsed, "source_line", "_reason") == [
        (1, "'user' is blank"),
        (2, f"'user' {NOT_AN_EMAIL}"),
        (3, "'x' is not a finite number"),
        (4, None),
    ]


def test_a_problem_found_in_the_bytes_is_the_reason(spark: SparkSession) -> None:
    frame = spark.createDataFrame(
        [("f.json", "c1", 1, '{"user":"a\\xff"}', "invalid UTF-8 at byte 11 of the line")], LINES
    )
    parsed = frame.transform(parse_records(ACCELEROMETER_FIELDS))
    assert rows(parsed, "_reason") == [("invalid UTF-8 at byte 11 of the line",)]

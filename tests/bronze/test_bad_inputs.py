"""Hostile landing files: every line delivered is landed or quarantined, and no file blocks a run.

All cases land in one landing zone and are ingested by one run (locally, and the name cases
again on S3): the per-file counts of landed and quarantined rows must be exactly the expected
ones, and their sum the lines (or array elements) delivered.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.aws import prepared_environment
from lakehouse.core.context import TableResult
from tests.helpers import s3_config


def reading(n: int, **changes: object) -> str:
    record: dict[str, object] = {"user": "a@x.com", "timestamp": n, "x": 1, "y": 2, "z": 3}
    record.update(changes)
    return json.dumps(record)


def raw(n: int, **texts: str) -> str:
    """A reading whose listed values are written as raw JSON text (`1e400`, `NaN`, ...)."""
    parts = {"user": '"a@x.com"', "timestamp": str(n), "x": "1", "y": "2", "z": "3", **texts}
    return "{" + ",".join(f'"{key}":{value}' for key, value in parts.items()) + "}"


def lines(*records: str, end: str = "\n") -> bytes:
    return "".join(record + end for record in records).encode()


# The reason of an email with no canonical form.
NOT_EMAIL = "'user' is not an email address once normalised"


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    landed: int
    quarantined: int
    repaired: int = 0
    # Part of the quarantine reason every bad line of the file must have.
    reason: str | None = None
    # Records delivered, where it is not the number of lines (arrays, damaged files).
    delivered: int | None = None


GOOD = lines(reading(1), reading(2))
NAMES = [
    "[bracket].json",
    "]close.json",
    "{brace}.json",
    "}close.json",
    ".hidden.json",
    "_underscore.json",
    "*.json",
    "?.json",
    "with space.json",
    "quote'name.json",
    'double"quote.json',
    "percent%20encoded.json",
    "new\nline.json",
    "ünïcode.json",
    "key=value.json",
    "comma,name.json",
    "hash#name.json",
]
NAME_CASES = [Case(name, GOOD, 2, 0) for name in NAMES]

GZIPPED = gzip.compress(lines(reading(1), reading(2), reading(3)))
ARRAY_PRETTY = json.dumps([json.loads(reading(1)), json.loads(reading(2))], indent=2).encode()
CONTENT_CASES = [
    Case("plain.json", lines(reading(1), reading(2), reading(3)), 3, 0),
    Case("crlf.json", lines(reading(1), reading(2), end="\r\n"), 2, 0),
    Case("no-final-newline.json", (reading(1) + "\n" + reading(2)).encode(), 2, 0),
    Case("empty.json", b"", 0, 0),
    Case("only-newlines.json", b"\n\n", 0, 2, reason="empty line"),
    Case("whitespace-line.json", lines(reading(1), "   \t"), 1, 1, reason="empty line"),
    Case("bom.json", b"\xef\xbb\xbf" + lines(reading(1), reading(2)), 2, 0),
    Case(
        "invalid-utf8.json",
        lines(reading(1)) + b'{"user":"a\xff@x.com","timestamp":2}\n' + lines(reading(3)),
        2,
        1,
        reason="invalid UTF-8",
    ),
    Case(
        "latin1.json",
        raw(1, user='"é@x.com"').encode("latin-1") + b"\n",
        0,
        1,
        reason="invalid UTF-8",
    ),
    Case("nul-byte.json", lines(reading(1)) + b'{"user":"a\x00"}\n', 1, 1),
    Case("gzipped.json.gz", GZIPPED, 3, 0),
    Case("gzip-named-plain.json", GZIPPED, 3, 0),
    Case(
        "cut-off.json.gz",
        GZIPPED[: len(GZIPPED) // 2],
        0,
        1,
        reason="cannot be read",
        delivered=1,
    ),
    Case("binary.json", bytes(range(256)) * 4, 0, 5),
    Case(
        "trailing-commas.json",
        lines(reading(1) + ",", reading(2) + ",", reading(3)),
        3,
        0,
        repaired=2,
    ),
    Case(
        "array-one-line.json",
        ("[" + reading(1) + "," + reading(2) + "]").encode(),
        2,
        0,
        delivered=2,
    ),
    Case("array-pretty.json", ARRAY_PRETTY, 2, 0, delivered=2),
    Case("array-empty.json", b"[]\n", 0, 0, delivered=0),
    Case(
        "array-cut-off.json",
        ("[" + reading(1) + ",\n" + reading(2)[:20]).encode(),
        1,
        1,
        reason="malformed JSON in the array",
        delivered=2,
    ),
    Case(
        "two-objects.json",
        lines(reading(1) + reading(2)),
        0,
        1,
        reason="more than one JSON value",
    ),
    Case(
        "trailing-garbage.json",
        lines(reading(1) + " and more"),
        0,
        1,
        reason="unexpected text after the JSON object",
    ),
    Case("overflow.json", lines(raw(1, x="1e400")), 0, 1, reason="'x' is out of range"),
    Case("nan-text.json", lines(reading(1, x="NaN")), 0, 1, reason="'x' is not a finite"),
    Case("inf-text.json", lines(reading(1, y="-Infinity")), 0, 1, reason="'y' is not a finite"),
    Case("nan-literal.json", lines(raw(1, x="NaN")), 0, 1, reason="NaN is not a JSON value"),
    Case("blank-email.json", lines(reading(1, user="")), 0, 1, reason="'user' is blank"),
    Case("spaces-email.json", lines(reading(1, user="   ")), 0, 1, reason="'user' is blank"),
    Case("true-email.json", lines(raw(1, user="true")), 0, 1, reason="not an email"),
    Case("number-email.json", lines(raw(1, user="12345")), 0, 1, reason="not an email"),
    Case(
        "object-email.json",
        lines(raw(1, user='{"a":"b@c.com"}')),
        0,
        1,
        reason="not an email",
    ),
    Case("null-email.json", lines(raw(1, user="null")), 0, 1, reason="missing required"),
    Case("wrong-type.json", lines(reading(1, timestamp="soon")), 0, 1, reason="not a valid bigint"),
    Case("fraction-time.json", lines(raw(1, timestamp="1.5")), 0, 1, reason="not a valid bigint"),
    Case("missing-field.json", lines('{"user":"a@x.com","timestamp":1,"x":1,"y":2}'), 0, 1),
    Case("old-spelling.json", lines('{"user":"a@x.com","timeStamp":4,"x":1,"y":2,"z":3}'), 1, 0),
    Case("scalar.json", lines("42", '"text"', "null", "[1,2]"), 0, 4, reason="not an object"),
    Case("cut-off-line.json", lines(reading(1)[:25]), 0, 1, reason="malformed JSON"),
    Case("not-json.json", lines("user=a@x.com;x=1"), 0, 1, reason="malformed JSON"),
    Case("spaced-email.json", lines(reading(1, user="  A@X.com ")), 1, 0),
    # Invisible and full-width characters: one canonical address (`lakehouse.core.identity`).
    Case(
        "invisible-email.json",
        lines(reading(1, user="a@x.com\u200b"), reading(2, user="\ufeffa@x.com")),
        2,
        0,
    ),
    Case("full-width-at.json", lines(reading(1, user="a\uff20x.com")), 1, 0),
    # No address once normalised: quarantined, not admitted as somebody new.
    Case("nul-in-email.json", lines(reading(1, user="a\u0000b@x.com")), 0, 1, reason=NOT_EMAIL),
    Case("long-email.json", lines(reading(1, user="a" * 250 + "@x.com")), 0, 1, reason=NOT_EMAIL),
    Case("no-domain.json", lines(reading(1, user="a@")), 0, 1, reason=NOT_EMAIL),
    Case("homoglyph.json", lines(reading(1, user="\u0430@x.com")), 0, 1, reason=NOT_EMAIL),
    Case("long-line.json", lines(reading(1, note="n" * 200_000)), 1, 0),
]
RESCUED_CASE = Case(
    "unknown-fields.json",
    lines(reading(1, Email="A@x.com", sensor={"k": 1}), reading(2)),
    2,
    0,
)
CUSTOMER_CASES = [
    # A full-width at sign once put the whole record (name, phone, birthday) in the quarantine.
    Case(
        "full-width-customer.json",
        lines('{"email":"Ann\uff20x.com","serialNumber":"s","lastUpdateDate":1,"phone":"1"}'),
        1,
        0,
    ),
    Case(
        "number-serial.json",
        lines('{"email":"c@x.com","serialNumber":12345,"lastUpdateDate":1}'),
        0,
        1,
        reason="'serialNumber' is not a JSON string",
    ),
    Case(
        "digit-string-serial.json",
        lines('{"email":"d@x.com","serialNumber":"12345","lastUpdateDate":1}'),
        1,
        0,
    ),
    Case(
        "object-serial.json",
        lines('{"email":"e@x.com","serialNumber":{"s":1},"lastUpdateDate":1}'),
        0,
        1,
        reason="'serialNumber' is not a JSON string",
    ),
]
ACCELEROMETER_CASES = [*NAME_CASES, *CONTENT_CASES, RESCUED_CASE]


def delivered(case: Case) -> int:
    if case.delivered is not None:
        return case.delivered
    content = case.content
    if content.startswith(b"\x1f\x8b"):
        content = gzip.decompress(content)
    if not content:
        return 0
    return len(content.split(b"\n")) - (1 if content.endswith(b"\n") else 0)


def test_at_least_forty_kinds_of_input() -> None:
    assert len(ACCELEROMETER_CASES) + len(CUSTOMER_CASES) >= 40
    for case in ACCELEROMETER_CASES + CUSTOMER_CASES:
        assert case.landed + case.quarantined == delivered(case), case.name


def write_cases(folder: Path, cases: list[Case]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        (folder / case.name).write_bytes(case.content)


def per_file(spark: SparkSession, table: str, column: str) -> dict[str, int]:
    counts = spark.table(table).groupBy(column).count().collect()
    return {str(path).rsplit("/", 1)[-1]: int(n) for path, n in counts}


def check_counts(spark: SparkSession, table: str, source: str, cases: list[Case]) -> None:
    landed = per_file(spark, table, "_source_file")
    quarantine = spark.table("bronze.quarantine").where(F.col("source") == source)
    quarantined = {
        str(path).rsplit("/", 1)[-1]: int(n)
        for path, n in quarantine.groupBy("source_file").count().collect()
    }
    for case in cases:
        got = (landed.get(case.name, 0), quarantined.get(case.name, 0))
        assert got == (case.landed, case.quarantined), case.name
        assert sum(got) == delivered(case), case.name
    reasons = quarantine.select("source_file", "reason").collect()
    for case in cases:
        if case.reason:
            found = [r for f, r in reasons if f.rsplit("/", 1)[-1] == case.name]
            assert found and all(case.reason in r for r in found), (case.name, found)


def notes_of(results: list[TableResult]) -> list[str]:
    return [note for result in results for note in result.notes]


def test_every_line_of_every_kind_of_file_is_landed_or_quarantined(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path
):
    config = make_config()
    landing = Path(config.paths.landing)
    write_cases(landing / "accelerometer", ACCELEROMETER_CASES)
    write_cases(landing / "customer", CUSTOMER_CASES)
    (landing / "step_trainer").mkdir()
    # Found but not taken: each is named in the run summary.
    (landing / "accelerometer" / "readme.txt").write_text("not data")
    (landing / "accelerometer" / "older").mkdir()
    (landing / "accelerometer" / "older" / "x.json").write_bytes(GOOD)
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(lines(reading(9)))
    (landing / "accelerometer" / "p.json").symlink_to("/etc/passwd")
    (landing / "accelerometer" / "outside-link.json").symlink_to(outside)
    (landing / "accelerometer" / "inside-link.json").symlink_to(
        landing / "accelerometer/plain.json"
    )

    _, results = run_pipeline(spark, config)  # every layer: one bad file blocks nothing

    check_counts(spark, "bronze.accelerometer_landing", "accelerometer", ACCELEROMETER_CASES)
    check_counts(spark, "bronze.customer_landing", "customer", CUSTOMER_CASES)
    landed = per_file(spark, "bronze.accelerometer_landing", "_source_file")
    assert landed["inside-link.json"] == 3  # a link inside the landing zone is a file like any
    assert "p.json" not in landed and "outside-link.json" not in landed
    notes = notes_of(results)
    for skipped in ("readme.txt", "older", "p.json", "outside-link.json"):
        assert any(f"/{skipped}: skipped" in note for note in notes), skipped
    assert any("step_trainer: no files" in note for note in notes)
    assert any("trailing-commas.json: 2 lines repaired" in note for note in notes)
    assert any("unknown-fields.json: 1 records with fields" in note for note in notes)

    # A literal `*.json` brought in its own two lines, not its siblings'.
    keys = spark.table("bronze.accelerometer_landing").groupBy(
        "_source_file", "_source_checksum", "_source_line"
    )
    assert keys.count().where("count > 1").count() == 0
    rescued = spark.table("bronze.accelerometer_landing").where(
        F.col("_rescued_data").isNotNull() & F.col("_source_file").endswith("/unknown-fields.json")
    )
    assert [json.loads(r[0]) for r in rescued.select("_rescued_data").collect()] == [
        {"Email": "A@x.com", "sensor": '{"k":1}'}
    ]
    # The unknown keys change nothing downstream: silver has exactly its own columns.
    assert "_rescued_data" not in spark.table("silver.accelerometer_trusted").columns

    # Every taken file is in bronze.ingested_files, and the next run reads none of them again.
    ingested = {
        str(path).rsplit("/", 1)[-1]
        for (path,) in spark.table("bronze.ingested_files").select("file").collect()
    }
    taken = {c.name for c in ACCELEROMETER_CASES + CUSTOMER_CASES} | {"inside-link.json"}
    assert ingested == taken
    _, again = run_pipeline(spark, config, "bronze")
    assert all(r.inserted == 0 for r in again)
    # The copies of the files read in Python held raw records: none outlives the run.
    staging = Path(config.paths.warehouse) / "_staging"
    assert not staging.exists() or not any(p.is_file() for p in staging.rglob("*"))


def test_links_outside_the_landing_zone_are_taken_when_configured(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path
):
    config = make_config("ingest.follow_outside_links=true")
    folder = Path(config.paths.landing) / "accelerometer"
    folder.mkdir(parents=True)
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(lines(reading(1), reading(2)))
    (folder / "linked.json").symlink_to(outside)
    run_pipeline(spark, config, "bronze")
    assert per_file(spark, "bronze.accelerometer_landing", "_source_file") == {"linked.json": 2}


def test_paths_with_quotes_work_for_landing_and_warehouse(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, tmp_path: Path
):
    # Hydra's override grammar wants such values in double quotes.
    config = make_config(
        f'paths.landing="{tmp_path}/it\'s [landing]"', f'paths.warehouse="{tmp_path}/o\'brien-wh"'
    )
    write_cases(Path(config.paths.landing) / "accelerometer", [CONTENT_CASES[0]])
    run_pipeline(spark, config)
    assert spark.table("silver.accelerometer_trusted").count() == 0  # no customers: no consent
    assert spark.table("bronze.accelerometer_landing").count() == 3
    assert os.path.isdir(f"{tmp_path}/o'brien-wh/bronze/accelerometer_landing/_delta_log")


@pytest.mark.slow
def test_special_names_on_s3_are_read_as_exactly_that_object(  # type: ignore[no-untyped-def]
    s3_spark: SparkSession, moto_endpoint: str, bucket: str
):
    config = s3_config(moto_endpoint, bucket)
    # The moto server refuses keys with a newline; S3 itself accepts them.
    cases = [
        *(case for case in NAME_CASES if "\n" not in case.name),
        Case("plain.json", lines(reading(1), reading(2), reading(3)), 3, 0),
        Case("gzipped.json.gz", GZIPPED, 3, 0),
        Case("percent%2Fslash.json", GOOD, 2, 0),
    ]
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    for case in cases:
        client.put_object(
            Bucket=bucket, Key=f"landing/accelerometer/{case.name}", Body=case.content
        )
    client.put_object(Bucket=bucket, Key="landing/accelerometer/sub/x.json", Body=GOOD)
    with prepared_environment(config):
        _, results = run_pipeline(s3_spark, config, "bronze")
        check_counts(s3_spark, "bronze.accelerometer_landing", "accelerometer", cases)
    assert any("/sub: skipped" in note for note in notes_of(results))

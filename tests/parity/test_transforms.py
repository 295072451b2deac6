"""Every transform on classic Spark (the JVM) and on the embedded engine: the same frames.

Each test builds its input on both engines from the same rows and compares the whole result
(columns, types, rows) with `on_both`. Inputs include malformed, wrongly typed and missing-key
records, and the values the engines write or read differently (see README, "Engines").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.tables import ACCELEROMETER_LANDING, CUSTOMER_LANDING, STEP_TRAINER_LANDING
from bronze.transforms import (
    FIELDS_BY_SOURCE,
    NOT_AN_EMAIL,
    parse_records,
    quarantined_lines,
    valid_records,
    with_explanations,
    with_ingestion,
    without_text_of_valid_records,
)
from gold.transforms import aligned_with_accelerometer, customers_with_readings
from lakehouse.core.identity import digest_of, email_identity
from lakehouse.core.landing import LINES_SCHEMA
from lakehouse.core.merge import flagged_source
from lakehouse.core.suppression import without_suppressed, without_suppressed_text
from silver.changes import (
    at_moment_times,
    changed_customers,
    fresh,
    moments_of,
    readings_of_customers,
    touched_readings,
    touched_readings_after,
)
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import (
    latest_record_per_customer,
    pseudonym,
    sanitize_customers,
    trusted_accelerometer,
    trusted_customers,
    trusted_step_trainer,
    with_customer_key,
    with_normalised_email,
    with_research_consent,
    with_row_id,
)
from tests.helpers import on_both, on_classic_spark

pytestmark = pytest.mark.slow

Build = Callable[[SparkSession], DataFrame]
AT = datetime(2026, 1, 2, 3, 4, 5)
SALT = "parity-salt"

# Lines every source gets: not JSON, cut off, not an object, trailing text, two values, bare
# NaN/Infinity, a number too large for a double, single quotes, comments, JSON-only whitespace.
COMMON_LINES = (
    "garbage",
    "",
    "   ",
    "{",
    "[1, 2]",
    "null",
    '"text"',
    "123",
    "{}",
    '{"a":1} trailing',
    '{"a":1}{"b":2}',
    '{"a":1}] [{"b":2}',
    '{"a":1}} x {"b":2}',
    '{"a":1},,',
    '{"a":1} // comment',
    "{'a':1}",
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":1e400}',
    '{"a":-1e400}',
    '{"a":{"b":1e400}}',
    '{"a":"\\"Infinity\\""}',
    '{"a":01}',
    '{"a":.5}',
    '{"a":1,}',
    "\t{}\t",
    "{}\u2028",
    "\ufeff{}",
)
LINES = {
    "customer": (
        '{"customerName":"A","email":"a@x.com","phone":"801-555-1212","birthDay":"1980-02-03",'
        '"serialNumber":"s1","registrationDate":1,"lastUpdateDate":2,'
        '"shareWithResearchAsOfDate":3}',
        '{"email":"b@x.com","serialNumber":"s2","lastUpdateDate":2,"phone":1e-5}',
        '{"email":"c@x.com","serialNumber":"s3","lastUpdateDate":2,"phone":5.551234567e9}',
        '{"email":"d@x.com","serialNumber":"s4","lastUpdateDate":2,"phone":12345678901234567890123}',
        '{"email":"e@x.com","serialNumber":7,"lastUpdateDate":"2"}',
        '{"email":"f@x.com","serialNumber":"s6","lastUpdateDate":2.5}',
        '{"email":"g\u00a0h@x.com","serialNumber":"s7","lastUpdateDate":2}',
        '{"email":"\u00a0i@x.com\u3000","serialNumber":"s8","lastUpdateDate":2}',
        '{"email":"j@x.com","serialNumber":" ","lastUpdateDate":2}',
        '{"email":"k@x.com","serialNumber":"s9"}',
        '{"email":"l@x.com","serialNumber":"s10","lastUpdateDate":2,"Email":"L@x.com","n":[1]},',
        '{"email":true,"serialNumber":"s12","lastUpdateDate":2}',
        '{"email":"n@x.com","serialNumber":"s13","lastUpdateDate":2}  ',
    ),
    "accelerometer": (
        '{"user":"a@x.com","timestamp":1655564444000,"x":1,"y":-0.5,"z":"2.25"}',
        '{"user":"a@x.com","timeStamp":1655564445000,"x":1e-5,"y":1e22,"z":-0.0}',
        '{"user":"a@x.com","timestamp":1,"x":"1d","y":"2.5f","z":"0x1p3"}',
        '{"user":"a@x.com","timestamp":1,"x":"NaN","y":"Infinity","z":"1e400"}',
        '{"user":"a@x.com","timestamp":7.5,"x":1,"y":2,"z":3}',
        '{"user":"a@x.com","timestamp":"9","x":1,"y":2,"z":3}',
        '{"user":"a@x.com","timestamp":1,"y":2,"z":3}',
        '{"user":"a@x.com","timestamp":1,"x":[1],"y":{"a":1},"z":true}',
        '{"user":"a@x.com","timestamp":1,"x":1,"y":2,"z":3,"user":"b@x.com"}',
        '{"user":"a@x.com","timestamp":12345678901234567890,"x":1,"y":2,"z":3}',
        '{"user":"a@x.com","timestamp":1,"x":1,"y":2,"z":3} trailing',
        '{"user":"a@x.com","timestamp":1,"x":NaN,"y":2,"z":3}',
        '{"user":"a@x.com","timestamp":1,"x":1e400,"y":2,"z":3}',
    ),
    "step_trainer": (
        '{"sensorReadingTime":1655564444000,"serialNumber":"s1","distanceFromObject":7}',
        '{"sensorReadingTime":1,"serialNumber":"s1","distanceFromObject":7.5}',
        '{"sensorReadingTime":1,"serialNumber":"s1","distanceFromObject":"9"}',
        '{"sensorReadingTime":1,"serialNumber":1.5e-7,"distanceFromObject":1}',
        '{"sensorReadingTime":1,"serialNumber":"s1","distanceFromObject":2147483648}',
        '{"sensorReadingTime":1,"serialNumber":"s1"}',
    ),
}


def numbered(texts: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Landing lines of one file, numbered from 1."""
    return [("f.json", "c1", n, t, None) for n, t in enumerate(texts, 1)]


def lines_of(source: str) -> list[tuple[Any, ...]]:
    rows = numbered((*LINES[source], *COMMON_LINES))
    rows.append(("f.json", "c1", len(rows) + 1, None, "invalid UTF-8 at byte 3"))
    return rows


def parsed(source: str, lines: list[tuple[Any, ...]] | None = None) -> Build:
    """`parse_records` of `lines` (by default every kind of line) as a `source`'s."""
    rows = lines_of(source) if lines is None else lines
    return lambda s: s.createDataFrame(rows, LINES_SCHEMA).transform(
        parse_records(FIELDS_BY_SOURCE[source])
    )


@pytest.mark.parametrize("source", sorted(LINES))
def test_bronze_parses_every_line_alike(
    spark: SparkSession, classic_spark: SparkSession, source: str
) -> None:
    on_both(spark, classic_spark, parsed(source))
    fields = FIELDS_BY_SOURCE[source]
    on_both(
        spark,
        classic_spark,
        lambda s: (
            parsed(source)(s)
            .transform(without_text_of_valid_records)
            .transform(valid_records(fields))
            .transform(with_ingestion(3, "run-1", AT))
        ),
    )
    explained = [("f.json", "c1", 1, "not JSON at all")]

    def quarantine(s: SparkSession) -> DataFrame:
        explanations = s.createDataFrame(
            explained,
            "source_file STRING, source_checksum STRING, source_line INT, explanation STRING",
        )
        return (
            parsed(source)(s)
            .transform(quarantined_lines(source))
            .transform(with_explanations(explanations))
            .transform(with_ingestion(3, "run-1", AT, prefix=""))
        )

    on_both(spark, classic_spark, quarantine)


def parsed_columns(
    spark: SparkSession, classic: SparkSession, source: str, texts: tuple[str, ...], *columns: str
) -> list[tuple[Any, ...]]:
    """`columns` of `source` lines as `parse_records` reads them, the same on both engines."""
    build = parsed(source, numbered(texts))
    _, rows = on_both(spark, classic, lambda s: build(s).select(*columns))
    return [eval(row) for row in rows]


def reasons(spark: SparkSession, classic: SparkSession, *texts: str) -> list[tuple[Any, ...]]:
    """(line, unreadable, reason) of accelerometer lines, the same on both engines."""
    columns = ("source_line", "_unreadable", "_reason")
    return parsed_columns(spark, classic, "accelerometer", texts, *columns)


def test_lines_classic_spark_used_to_accept_are_refused_on_both(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    record = '{"user":"a@x.com","timestamp":1,"x":1,"y":2,"z":3}'
    assert reasons(
        spark,
        classic_spark,
        record + " trailing",
        record + '{"a":1}',
        record + ",,",
        record.replace('"x":1', '"x":NaN'),
        record.replace('"x":1', '"x":1e400'),
        record.replace('"', "'"),
        record + ",",  # the body of a JSON array: repaired, on both
    ) == [*[(n, True, "malformed JSON") for n in range(1, 7)], (7, False, None)]


def test_jvm_only_double_text_is_not_a_double(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    line = '{"user":"a@x.com","timestamp":1,"x":"1d","y":"2.5f","z":"0x1p3"}'
    expected = "'x' is not a valid double; 'y' is not a valid double; 'z' is not a valid double"
    assert reasons(spark, classic_spark, line) == [(1, False, expected)]


def test_a_number_in_a_text_field_keeps_the_lines_digits(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    line = '{"email":"a@x.com","serialNumber":"s","lastUpdateDate":2,"phone":1e-5}'
    assert parsed_columns(spark, classic_spark, "customer", (line,), "phone") == [("1e-5",)]


def test_unicode_spaces_inside_an_email_are_refused_on_both(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    record = '{"user":"%s","timestamp":1,"x":1,"y":2,"z":3}'
    assert reasons(
        spark, classic_spark, record % "a\u00a0b@x.com", record % "\u00a0a@x.com\u3000"
    ) == [(1, False, f"'user' {NOT_AN_EMAIL}"), (2, False, None)]


def test_invisible_full_width_and_refused_emails_alike_on_both(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    record = '{"user":"%s","timestamp":1,"x":1,"y":2,"z":3}'
    emails = ["a@x.com\u200b", "\ufeffa@x.com", "a\uff20x.com", "a\\u0000@x.com", "\u0430@x.com"]
    assert reasons(spark, classic_spark, *[record % e for e in emails]) == [
        (1, False, None),
        (2, False, None),
        (3, False, None),
        (4, False, f"'user' {NOT_AN_EMAIL}"),
        (5, False, f"'user' {NOT_AN_EMAIL}"),
    ]


def test_rescued_numbers_are_spelled_by_each_engine(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    """Known difference, left as it is: `_rescued_data` keeps unknown keys' values as the
    engine writes them back, and the engines spell a parsed number differently."""
    lines = [
        (
            "f.json",
            "c1",
            1,
            '{"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"extra":1e-5}',
            None,
        )
    ]

    def rescued(s: SparkSession) -> Any:
        frame = s.createDataFrame(lines, LINES_SCHEMA)
        return frame.transform(parse_records(FIELDS_BY_SOURCE["step_trainer"])).first()

    assert rescued(spark)["_rescued_data"] == '{"extra":"0.00001"}'
    with on_classic_spark():
        assert rescued(classic_spark)["_rescued_data"] == '{"extra":"1.0E-5"}'
    # The record itself lands alike on both.
    assert rescued(spark)["_reason"] is None


# --- Silver and gold ----------------------------------------------------------------------------


def table_rows(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row.get(c) for c in columns) for row in rows]


def lineage(batch: int, line: int, file: str = "f.json") -> dict[str, Any]:
    return {
        "_source_file": file,
        "_source_checksum": "c1",
        "_source_line": line,
        "_batch": batch,
        "_ingestion_run_id": f"run-{batch}",
        "_ingested_at": AT,
    }


CUSTOMERS = [
    # Latest record wins; ties by file, batch, line.
    {
        "email": "A@x.com ",
        "serialNumber": "s1",
        "lastUpdateDate": 10,
        "phone": "801-555-1212",
        "birthDay": "1980-02-03",
        "shareWithResearchAsOfDate": 100,
        **lineage(1, 1),
    },
    {
        "email": "a@x.com",
        "serialNumber": "s1",
        "lastUpdateDate": 20,
        "phone": "\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
        "birthDay": "١٩٨٠-٠٢-٠٣",
        "shareWithResearchAsOfDate": 100,
        **lineage(2, 1),
    },
    {
        "email": "b@x.com",
        "serialNumber": "s1",
        "lastUpdateDate": 20,
        "phone": "\uff15\uff15\uff15\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
        "birthDay": "2100-01-01",
        "shareWithResearchAsOfDate": 50,
        **lineage(1, 2),
    },
    {
        "email": "b@x.com",
        "serialNumber": "s2",
        "lastUpdateDate": 20,
        "phone": "1-801-555-1212",
        "birthDay": "1899-12-31",
        "shareWithResearchAsOfDate": 50,
        **lineage(1, 3),
    },
    {
        "email": "\u00a0c@x.com",
        "serialNumber": "s3",
        "lastUpdateDate": 5,
        "phone": None,
        "birthDay": "1990-02-30",
        "shareWithResearchAsOfDate": None,
        **lineage(2, 2, "g.json"),
    },
    {
        "email": "d@x.com",
        "serialNumber": "s3",
        "lastUpdateDate": 1655564444000,
        "birthDay": "2020-01-05",
        "shareWithResearchAsOfDate": 1,
        **lineage(2, 3, "g.json"),
    },
]
READINGS = [
    {"user": "a@x.com", "timestamp": 100, "x": 1e-5, "y": 1e22, "z": -0.0, **lineage(1, 1)},
    {"user": "a@x.com", "timestamp": 100, "x": 1e-5, "y": 1e22, "z": -0.0, **lineage(2, 1)},
    {"user": "a@x.com", "timestamp": 99, "x": 0.1, "y": 0.2, "z": 0.3, **lineage(1, 2)},
    {
        "user": "a@x.com",
        "timestamp": 200,
        "x": 5e-324,
        "y": 1.7976931348623157e308,
        "z": 123.456,
        **lineage(2, 2),
    },
    {
        "user": "b@x.com",
        "timestamp": 100,
        "x": 0.0,
        "y": 1e7,
        "z": 9999999.999999998,
        **lineage(1, 3),
    },
    {"user": "d@x.com", "timestamp": 300, "x": 1.0, "y": 2.0, "z": 3.0, **lineage(2, 3)},
    {"user": "\u00a0C@x.com", "timestamp": 100, "x": 1.0, "y": 2.0, "z": 3.0, **lineage(2, 4)},
]
STEPS = [
    {"sensorReadingTime": 100, "serialNumber": "s1", "distanceFromObject": 7, **lineage(1, 1)},
    {"sensorReadingTime": 100, "serialNumber": "s1", "distanceFromObject": 7, **lineage(2, 1)},
    {"sensorReadingTime": 200, "serialNumber": "s1", "distanceFromObject": 8, **lineage(2, 2)},
    {"sensorReadingTime": 100, "serialNumber": "s2", "distanceFromObject": 9, **lineage(1, 2)},
    {"sensorReadingTime": 300, "serialNumber": "s3", "distanceFromObject": 1, **lineage(2, 3)},
    {"sensorReadingTime": 999, "serialNumber": "s3", "distanceFromObject": 1, **lineage(2, 4)},
]


def landing(s: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The three bronze landing tables as silver reads them (emails normalised)."""
    customers = s.createDataFrame(
        table_rows(CUSTOMER_LANDING.column_names, CUSTOMERS), CUSTOMER_LANDING.row_schema
    ).transform(with_normalised_email("email"))
    readings = s.createDataFrame(
        table_rows(ACCELEROMETER_LANDING.column_names, READINGS), ACCELEROMETER_LANDING.row_schema
    ).transform(with_normalised_email("user"))
    steps = s.createDataFrame(
        table_rows(STEP_TRAINER_LANDING.column_names, STEPS), STEP_TRAINER_LANDING.row_schema
    )
    return customers, readings, steps


def trusted(s: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    customers, readings, steps = landing(s)
    customer_trusted = customers.transform(trusted_customers(SALT))
    accelerometer = readings.transform(trusted_accelerometer(customer_trusted, consent_cutoff=True))
    step_trainer = steps.transform(trusted_step_trainer(customer_trusted, accelerometer))
    return customer_trusted, accelerometer, step_trainer


SILVER_STEPS: dict[str, Build] = {
    "latest_record_per_customer": lambda s: landing(s)[0].transform(latest_record_per_customer),
    "with_research_consent": lambda s: landing(s)[0].transform(with_research_consent),
    "sanitize_customers": lambda s: landing(s)[0].transform(sanitize_customers),
    "with_customer_key": lambda s: landing(s)[0].transform(with_customer_key(SALT)),
    "with_row_id": lambda s: landing(s)[1].transform(
        with_row_id("reading_id", ("user", "timestamp", "x", "y", "z"))
    ),
    "customer_trusted": lambda s: trusted(s)[0],
    "accelerometer_trusted": lambda s: trusted(s)[1],
    "accelerometer_trusted without the cutoff": lambda s: landing(s)[1].transform(
        trusted_accelerometer(trusted(s)[0], consent_cutoff=False)
    ),
    "step_trainer_trusted": lambda s: trusted(s)[2],
    "customer_curated": lambda s: trusted(s)[0].transform(customers_with_readings(trusted(s)[1])),
    "machine_learning_curated": lambda s: trusted(s)[2].transform(
        aligned_with_accelerometer(trusted(s)[0], trusted(s)[1])
    ),
}


@pytest.mark.parametrize("step", sorted(SILVER_STEPS))
def test_silver_and_gold_give_the_same_rows(
    spark: SparkSession, classic_spark: SparkSession, step: str
) -> None:
    on_both(spark, classic_spark, SILVER_STEPS[step])


def test_trusted_tables_have_their_ddl_columns(
    spark: SparkSession, classic_spark: SparkSession
) -> None:
    for index, table in enumerate((CUSTOMER_TRUSTED, ACCELEROMETER_TRUSTED, STEP_TRAINER_TRUSTED)):
        columns, rows = on_both(spark, classic_spark, lambda s, i=index: trusted(s)[i])
        assert tuple(name for name, _ in columns) == table.column_names
        assert rows


INCREMENT_STEPS: dict[str, Build] = {
    "fresh": lambda s: fresh(landing(s)[1], 1),
    "fresh, all": lambda s: fresh(landing(s)[1], None),
    "changed_customers": lambda s: changed_customers(landing(s)[0], 1),
    "readings_of_customers": lambda s: readings_of_customers(
        landing(s)[1], changed_customers(landing(s)[0], 1)
    ),
    "touched_readings": lambda s: touched_readings(
        landing(s)[1], changed_customers(landing(s)[0], 1), 1
    ),
    "touched_readings_after": lambda s: touched_readings_after(landing(s)[0], landing(s)[1])(1),
    "moments_of": lambda s: moments_of(landing(s)[1], landing(s)[0]),
    "at_moment_times": lambda s: at_moment_times(
        landing(s)[2], "sensorReadingTime", moments_of(landing(s)[1], landing(s)[0])
    ),
}


@pytest.mark.parametrize("step", sorted(INCREMENT_STEPS))
def test_incremental_scoping_gives_the_same_rows(
    spark: SparkSession, classic_spark: SparkSession, step: str
) -> None:
    on_both(spark, classic_spark, INCREMENT_STEPS[step])


# --- People: identity, pseudonyms, suppression, merge flags --------------------------------------

EMAILS = ["a@x.com", " A@X.com\t", "\u00a0a@x.com\u3000", "ΣΑΣ@x.com", "İ@x.com", "a\u00a0b@x.com"]


def test_identity_and_pseudonyms(spark: SparkSession, classic_spark: SparkSession) -> None:
    on_both(
        spark,
        classic_spark,
        lambda s: s.createDataFrame([(e,) for e in EMAILS], "email STRING").select(
            "email",
            email_identity(F.col("email")).alias("identity"),
            digest_of(F.col("email")).alias("digest"),
            pseudonym(SALT, email_identity(F.col("email"))).alias("pseudonym"),
        ),
    )


def test_suppression(spark: SparkSession, classic_spark: SparkSession) -> None:
    def suppressed(s: SparkSession) -> DataFrame:
        erased = s.createDataFrame([("a@x.com",), ("a\u00a0b@x.com",)], "email STRING").select(
            digest_of(F.col("email")).alias("digest")
        )
        return s.createDataFrame([(e,) for e in EMAILS], "email STRING").transform(
            without_suppressed("email", erased)
        )

    def suppressed_text(s: SparkSession) -> DataFrame:
        erased = s.createDataFrame([("a@x.com",), ("b@y.org",)], "email STRING").select(
            digest_of(F.col("email")).alias("digest")
        )
        raw = [
            ("f", 1, '{"user":"A@X.com" broken'),
            ("f", 2, "user=b@y.org;x=1"),
            ("f", 3, "c\u00a0a@x.com is not erased"),
            ("f", 4, "nobody here"),
            ("f", 5, None),
        ]
        return s.createDataFrame(raw, "file STRING, line INT, raw STRING").transform(
            without_suppressed_text("raw", ("file", "line"), erased)
        )

    on_both(spark, classic_spark, suppressed)
    on_both(spark, classic_spark, suppressed_text)


def test_merge_flags(spark: SparkSession, classic_spark: SparkSession) -> None:
    schema = "k STRING, v DOUBLE"

    def flagged(s: SparkSession) -> DataFrame:
        target = s.createDataFrame([("a", 1.0), ("b", 2.0), ("c", 1e-5)], schema)
        source = s.createDataFrame([("a", 1.5), ("d", 4.0)], schema)
        scope = s.createDataFrame([("a",), ("b",)], "k STRING")
        return flagged_source(source, target, ("k",), leaving=scope, held=True)

    on_both(spark, classic_spark, flagged)


# --- The test catches one-engine idioms -----------------------------------------------------------


@pytest.mark.parametrize(
    "idiom",
    [
        # `\s` is ASCII on the JVM, Unicode on the embedded engine.
        lambda c: c.rlike(r"^[^@\s]+@[^@\s]+$"),
        # A double's own text: `1.0E-5` on the JVM, `0.00001` on the embedded engine.
        lambda c: F.lit(1e-5).cast("string"),
        # The JVM reads `{...} trailing` as the object.
        lambda c: F.from_json(F.lit('{"a":1} x'), "map<string,string>").isNull(),
    ],
)
def test_a_one_engine_idiom_fails_the_comparison(
    spark: SparkSession, classic_spark: SparkSession, idiom: Callable[[Any], Any]
) -> None:
    def build(s: SparkSession) -> DataFrame:
        return s.createDataFrame([("a\u00a0b@x.com",)], "c STRING").select(idiom(F.col("c")))

    with pytest.raises(AssertionError, match="only on the embedded engine"):
        on_both(spark, classic_spark, build)

"""Bronze transforms: landing lines -> typed records or quarantined lines with a reason.

Pure DataFrame -> DataFrame functions; no I/O, no session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.core.identity import email_identity

Transform = Callable[[DataFrame], DataFrame]


@dataclass(frozen=True)
class Field:
    """A field of a source record: its JSON key, SQL type, and whether a record needs it."""

    name: str
    type: str = "string"
    required: bool = False
    # Another spelling of the key found in older exports.
    alias: str | None = None
    # The value must look like an email address (it identifies a person).
    email: bool = False


CUSTOMER_FIELDS = (
    Field("customerName"),
    Field("email", required=True, email=True),
    Field("phone"),
    Field("birthDay"),
    Field("serialNumber", required=True),
    Field("registrationDate", "bigint"),
    Field("lastUpdateDate", "bigint", required=True),
    Field("shareWithResearchAsOfDate", "bigint"),
    Field("shareWithPublicAsOfDate", "bigint"),
    Field("shareWithFriendsAsOfDate", "bigint"),
)
ACCELEROMETER_FIELDS = (
    Field("user", required=True, email=True),
    Field("timestamp", "bigint", required=True, alias="timeStamp"),
    Field("x", "double", required=True),
    Field("y", "double", required=True),
    Field("z", "double", required=True),
)
STEP_TRAINER_FIELDS = (
    Field("sensorReadingTime", "bigint", required=True),
    Field("serialNumber", required=True),
    Field("distanceFromObject", "int", required=True),
)
FIELDS_BY_SOURCE = {
    "customer": CUSTOMER_FIELDS,
    "accelerometer": ACCELEROMETER_FIELDS,
    "step_trainer": STEP_TRAINER_FIELDS,
}
REASON = "_reason"
RESCUED = "_rescued_data"
REPAIRED = "_repaired"
# Lines the engine could not read as a JSON object: their reason is worded in Python
# (`bronze.explain`), which can say what is wrong where the engine only fails.
UNREADABLE = "_unreadable"
MALFORMED = "malformed JSON"
# An email is admitted when it has a canonical form (`lakehouse.core.identity`): the one rule
# that also matches people, so nothing bronze admits is unmatchable and nothing it refuses is
# someone. The value is kept as delivered (spaces, invisible characters); matching people
# canonicalises it.
NOT_AN_EMAIL = "is not an email address once normalised (NFKC, invisible characters removed)"
# Values a text field's JSON text has when the JSON value was not a string at all.
# (`[\s\S]`, not `.`: the JVM's `.` also stops at U+2028 and other line ends.)
NOT_A_STRING = r"^([{\[][\s\S]*|true|false|-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)$"
# JSON's own whitespace (RFC 8259), the only characters allowed around its tokens.
JSON_SPACE = " \t\r\n"
# Every `from_json` reads strictly: classic Spark otherwise takes bare NaN and Infinity, which
# are not JSON (the embedded engine refuses the line; so does Spark with this).
STRICT_JSON = {"allowNonNumericNumbers": "false", "allowSingleQuotes": "false"}
# How classic Spark gives, as text, a number too large for a double (`1e400`, also nested):
# the line is then refused, as the embedded engine refuses it. The exponent test keeps a
# string that merely holds `"Infinity"` in quotes readable.
OVERFLOWED = r'"-?Infinity"'
HUGE_EXPONENT = r"[0-9][eE]\+?[0-9]{3}"
# Text the JVM's double parser takes and the embedded engine's does not (`1d`, `2.5f`, hex).
JVM_ONLY_DOUBLE = r"[0-9.][dDfF]|[xX]"


def parse_records(fields: tuple[Field, ...]) -> Transform:
    """Parse `line` into one typed column per field plus `_reason` (NULL for a valid record).

    Every value is first read as text, so a wrongly typed value is told apart from a missing
    key. Keys the schema does not know are kept as JSON in `_rescued_data`. A line ending in a
    comma (an export of a JSON array's body) is read without it and marked `_repaired`. A
    `problem` found while reading the file's bytes is the reason as it is. The steps are
    separate projections on purpose: nested in one expression, the engine would parse the JSON
    again for every reference to a field (ten times slower).
    """
    keys = [f.name for f in fields] + [f.alias for f in fields if f.alias]
    text_schema = StructType([StructField(key, StringType()) for key in keys])
    parsed_map = F.from_json("_json_text", "map<string,string>", STRICT_JSON)

    def transform(lines: DataFrame) -> DataFrame:
        keep = lines.columns
        repaired = F.coalesce(F.rtrim("line").endswith(","), F.lit(False))
        candidate = lines.select(
            *keep,
            repaired.alias(REPAIRED),
            F.when(repaired, F.regexp_replace("line", r",\s*$", ""))
            .otherwise(F.col("line"))
            .alias("_json_text"),
        )
        # Renamed by position: `timestamp` and `timeStamp` differ only in case, which column
        # names do not tell apart.
        maps = candidate.select(
            *keep,
            REPAIRED,
            "_json_text",
            parsed_map.alias("_map"),
            F.from_json("_json_text", text_schema, STRICT_JSON).alias("_json"),
        )
        # A record is exactly one JSON object: classic Spark reads the first value of
        # `{...} text` or `{...}{...}` and ignores the rest, the embedded engine refuses it.
        whole = F.coalesce(_one_object(F.col("_json_text")), F.lit(False)) & ~F.coalesce(
            _overflowed(F.col("_map"), F.col("_json_text")), F.lit(False)
        )
        json = (
            maps.select(
                *keep,
                REPAIRED,
                "_json_text",
                "_map",
                # Not json_object_keys: Sail's cluster mode cannot run it on its workers.
                F.when(whole, F.map_keys("_map")).alias("_keys"),
                F.when(whole, F.col("_json")).alias("_json"),
            )
            .select(*keep, REPAIRED, "_json_text", "_map", "_keys", "_json.*")
            .toDF(
                *keep, REPAIRED, "_json_text", "_map", "_keys", *[_key(key, keys) for key in keys]
            )
        )
        texts = json.select(
            *keep,
            REPAIRED,
            "_json_text",
            "_map",
            "_keys",
            *[_text_value(f, keys).alias(_text(f)) for f in fields],
        )
        typed = texts.select(
            *keep,
            REPAIRED,
            "_json_text",
            "_map",
            "_keys",
            *[_text(f) for f in fields],
            *[_typed(f).alias(f.name) for f in fields],
        )
        rescued = F.when(
            F.exists("_keys", lambda k: ~k.isin(keys)),
            F.to_json(F.map_filter("_map", lambda k, _: ~k.isin(keys))),
        )
        no_field_read = F.coalesce(*[F.col(_text(f)) for f in fields]).isNull()
        blank = F.trim("line") == ""
        reason = (
            F.when(F.col("problem").isNotNull(), F.col("problem"))
            .when(blank, F.lit("empty line"))
            .when(F.col("_keys").isNull(), F.lit(MALFORMED))
            .otherwise(F.nullif(F.concat_ws("; ", *_problems(fields)), F.lit("")))
        )
        unreadable = F.col("problem").isNull() & ~blank & (F.col("_keys").isNull() | no_field_read)
        return typed.select(
            *keep,
            *[f.name for f in fields],
            rescued.alias(RESCUED),
            REPAIRED,
            F.coalesce(unreadable, F.lit(False)).alias(UNREADABLE),
            reason.alias(REASON),
        )

    return transform


def _problems(fields: tuple[Field, ...]) -> list[Column]:
    """One expression per rule a record can break, each NULL when the record keeps it."""
    problems = []
    for f in fields:
        text, value = F.col(_text(f)), F.col(f.name)
        if f.required:
            problems.append(F.when(text.isNull(), F.lit(f"missing required field '{f.name}'")))
        if f.type != "string":
            problems.append(
                F.when(
                    text.isNotNull() & value.isNull(), F.lit(f"'{f.name}' is not a valid {f.type}")
                )
            )
        if f.type == "double":
            problems.append(
                F.when(
                    F.isnan(value) | (F.abs(value) == float("inf")),
                    F.lit(f"'{f.name}' is not a finite number"),
                )
            )
        if f.type == "string" and f.required:
            problems.append(F.when(F.trim(text) == "", F.lit(f"'{f.name}' is blank")))
        if f.email:
            problems.append(
                F.when(
                    (F.trim(text) != "") & email_identity(text).isNull(),
                    F.lit(f"'{f.name}' {NOT_AN_EMAIL}"),
                )
            )
        elif f.type == "string":
            problems.append(
                F.when(_not_a_string(f, text), F.lit(f"'{f.name}' is not a JSON string"))
            )
    return problems


def _one_object(text: Column) -> Column:
    """Whether `text` is one JSON object and nothing more (NULL: not even one).

    A record starts with `{` and ends with `}`. Only a line with a `}` before its last
    character (a nested object, or a second value) is parsed again, wrapped twice: a second
    value makes `[text]` an array of more than one element or invalid, and a `]` or `}` that
    closes the wrapping early leaves the other wrapping invalid.
    """
    body = F.trim(text, F.lit(JSON_SPACE))
    as_element = F.from_json(
        F.concat(F.lit("["), text, F.lit("]")), "array<map<string,string>>", STRICT_JSON
    )
    as_member = F.from_json(
        F.concat(F.lit('{"_":'), text, F.lit("}")), "_ map<string,string>", STRICT_JSON
    )
    alone = (F.size(as_element) == 1) & as_member["_"].isNotNull()
    return (
        F.when(~(body.startswith("{") & body.endswith("}")), F.lit(False))
        .when(F.instr(body, "}") == F.length(body), F.lit(True))
        .otherwise(alone)
    )


def _overflowed(parsed: Column, text: Column) -> Column:
    """Whether a number in the line is too large for a double (see `OVERFLOWED`)."""
    return F.exists(F.map_values(parsed), lambda value: value.rlike(OVERFLOWED)) & text.rlike(
        HUGE_EXPONENT
    )


def _typed(field: Field) -> Column:
    text = F.col(_text(field))
    value = text.try_cast(field.type)
    if field.type == "double":
        return F.when(~text.rlike(JVM_ONLY_DOUBLE), value)
    return value


def _keyed_string(field: Field) -> str:
    """A pattern for the field's key followed by a JSON string in the raw line."""
    return rf'"{field.name}"[{JSON_SPACE}]*:[{JSON_SPACE}]*"'


def _not_a_string(field: Field, text: Column) -> Column:
    """Whether a text field held a number, boolean, object or array in the JSON.

    The engine gives such values as their JSON text, so the raw line decides; the cheap test
    on the first character keeps that look at the line rare.
    """
    suspicious = F.substring(text, 1, 1).isin("{", "[", "t", "f", "-", *"0123456789")
    keyed_string = _keyed_string(field)
    return F.when(suspicious & text.rlike(NOT_A_STRING), ~F.col("_json_text").rlike(keyed_string))


def _text(field: Field) -> str:
    return f"_text_{field.name}"


def _text_value(field: Field, keys: list[str]) -> Column:
    value = F.col(_key(field.name, keys))
    if field.alias:
        value = F.coalesce(value, F.col(_key(field.alias, keys)))
    if field.type == "string":
        value = _number_as_delivered(field, value)
    return value


def _number_as_delivered(field: Field, value: Column) -> Column:
    """A number in a text field, as the line spells it.

    The engines write a parsed number back as different text (`1.0E-5` on the JVM,
    `0.00001` on the embedded engine); the line's own digits are the same on both.
    """
    number = rf'"{field.name}"[{JSON_SPACE}]*:[{JSON_SPACE}]*(-?[0-9][0-9.eE+-]*)'
    delivered = F.regexp_extract(F.col("_json_text"), number, 1)
    is_number = value.rlike(r"^-?[0-9]") & ~F.col("_json_text").rlike(_keyed_string(field))
    return F.when(is_number & (delivered != ""), delivered).otherwise(value)


def _key(key: str, keys: list[str]) -> str:
    """A column name for a JSON key that is unique even ignoring case."""
    return f"_key{keys.index(key)}"


def valid_records(fields: tuple[Field, ...]) -> Transform:
    """The typed records of lines without a problem, with their lineage columns."""

    def transform(parsed: DataFrame) -> DataFrame:
        return parsed.where(F.col(REASON).isNull()).select(
            *[f.name for f in fields],
            F.col("source_file").alias("_source_file"),
            F.col("source_checksum").alias("_source_checksum"),
            F.col("source_line").alias("_source_line"),
            RESCUED,
        )

    return transform


def without_text_of_valid_records(parsed: DataFrame) -> DataFrame:
    """Keep the raw `line` only where the quarantine needs it: valid records are typed."""
    return parsed.withColumn("line", F.when(F.col(REASON).isNotNull(), F.col("line")))


def quarantined_lines(source: str) -> Transform:
    """The lines that could not be parsed or typed, with the source and the reason."""

    def transform(parsed: DataFrame) -> DataFrame:
        return parsed.where(F.col(REASON).isNotNull()).select(
            F.lit(source).alias("source"),
            "source_file",
            "source_checksum",
            "source_line",
            F.col("line").alias("raw"),
            F.col(REASON).alias("reason"),
        )

    return transform


def with_explanations(explained: DataFrame | None) -> Transform:
    """Quarantined lines with the reason from `explained` (by file and line) where it has one."""

    def transform(quarantined: DataFrame) -> DataFrame:
        if explained is None:
            return quarantined
        key = ["source_file", "source_checksum", "source_line"]
        return (
            quarantined.join(explained, key, "left")
            .withColumn("reason", F.coalesce("explanation", "reason"))
            .drop("explanation")
        )

    return transform


def with_ingestion(
    batch: int, run_id: str, ingested_at: datetime, *, prefix: str = "_"
) -> Transform:
    """Stamp each row with its ingestion batch (downstream jobs resume from it), run and time."""

    def transform(df: DataFrame) -> DataFrame:
        return df.withColumns(
            {
                f"{prefix}batch": F.lit(batch).cast("bigint"),
                f"{prefix}ingestion_run_id": F.lit(run_id),
                f"{prefix}ingested_at": F.lit(ingested_at).cast("timestamp"),
            }
        )

    return transform

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

Transform = Callable[[DataFrame], DataFrame]


@dataclass(frozen=True)
class Field:
    """A field of a source record: its JSON key, SQL type, and whether a record needs it."""

    name: str
    type: str = "string"
    required: bool = False
    # Another spelling of the key found in older exports.
    alias: str | None = None


CUSTOMER_FIELDS = (
    Field("customerName"),
    Field("email", required=True),
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
    Field("user", required=True),
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


def parse_records(fields: tuple[Field, ...]) -> Transform:
    """Parse `line` into one typed column per field plus `_reason` (NULL for a valid record).

    Every value is first read as text, so a wrongly typed value is told apart from a missing
    key, and a line that is not a JSON object at all is told apart from both. The steps are
    separate projections on purpose: nested in one expression, the engine would parse the
    JSON again for every reference to a field (ten times slower). Each line is parsed once;
    only lines without any known field are parsed again, to tell junk from other objects.
    """
    keys = [f.name for f in fields] + [f.alias for f in fields if f.alias]
    text_schema = StructType([StructField(key, StringType()) for key in keys])

    def transform(lines: DataFrame) -> DataFrame:
        keep = lines.columns
        # Renamed by position: `timestamp` and `timeStamp` differ only in case, which column
        # names do not tell apart.
        json = (
            lines.select(*keep, F.from_json("line", text_schema).alias("_json"))
            .select(*keep, "_json.*")
            .toDF(*keep, *[_key(key, keys) for key in keys])
        )
        texts = json.select(*keep, *[_text_value(f, keys).alias(_text(f)) for f in fields])
        typed = texts.select(
            *keep,
            *[_text(f) for f in fields],
            *[F.col(_text(f)).try_cast(f.type).alias(f.name) for f in fields],
        )
        problems = [
            F.when(F.col(_text(f)).isNull(), F.lit(f"missing required field '{f.name}'"))
            for f in fields
            if f.required
        ] + [
            F.when(
                F.col(_text(f)).isNotNull() & F.col(f.name).isNull(),
                F.lit(f"'{f.name}' is not a valid {f.type}"),
            )
            for f in fields
            if f.type != "string"
        ]
        no_field_read = F.coalesce(*[F.col(_text(f)) for f in fields]).isNull()
        # A CASE evaluates its THEN only on the rows it selects: the second parse stays rare.
        checked = typed.withColumn(
            "_not_an_object", F.when(no_field_read, F.json_object_keys("line").isNull())
        )
        reason = (
            F.when(F.trim("line") == "", F.lit("empty line"))
            .when(F.col("_not_an_object"), F.lit("malformed JSON"))
            .otherwise(F.nullif(F.concat_ws("; ", *problems), F.lit("")))
        )
        return checked.select(*keep, *[f.name for f in fields], reason.alias(REASON))

    return transform


def _text(field: Field) -> str:
    return f"_text_{field.name}"


def _text_value(field: Field, keys: list[str]) -> Column:
    value = F.col(_key(field.name, keys))
    if field.alias:
        value = F.coalesce(value, F.col(_key(field.alias, keys)))
    return value


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

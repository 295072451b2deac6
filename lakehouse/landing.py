"""The landing zone: which files a source has, and their lines with file and line number."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.storage import join, list_files, read_chunks

SOURCES = ("customer", "accelerometer", "step_trainer")
LINES_SCHEMA = "source_file STRING, source_checksum STRING, source_line INT, line STRING"


@dataclass(frozen=True)
class LandingFile:
    """A delivered file as the listing shows it; `checksum` is filled in once computed."""

    path: str
    size: int
    modified_ns: int
    checksum: str | None = None


def landing_files(landing: str, source: str) -> list[LandingFile]:
    """Every `*.json` file of a source (`<landing>/<source>/*.json`), in name order.

    `landing` is a local folder or an S3 URI; for S3 objects `modified_ns` is LastModified.
    """
    return [
        LandingFile(file.path, file.size, file.modified_ns)
        for file in list_files(join(landing, source), ".json")
    ]


def content_checksum(path: str) -> str:
    """SHA-256 of the file's bytes: a re-delivered file is recognised by its content."""
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def read_lines(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """One row per line of each file: `source_file`, `source_checksum`, `source_line`, `line`.

    Files are read whole because the engine has no per-row file name and no line numbers;
    splitting each file's text gives both exactly.
    """
    if not files:
        return spark.createDataFrame([], LINES_SCHEMA)
    texts = [
        spark.read.text(file.path, wholetext=True).select(
            F.lit(file.path).alias("source_file"),
            F.lit(file.checksum).cast("string").alias("source_checksum"),
            F.col("value"),
        )
        for file in files
    ]
    # Drop the final newline first: filtering exploded lines on their position is far slower.
    # Line ends (LF or CRLF) are matched once per file, not once per line.
    whole = reduce(DataFrame.unionByName, texts).select(
        "source_file", "source_checksum", F.regexp_replace("value", "\r?\n$", "").alias("value")
    )
    return (
        whole.where(F.col("value") != "")  # an empty file has no lines
        .select(
            "source_file",
            "source_checksum",
            F.posexplode(F.split("value", "\r?\n")).alias("position", "line"),
        )
        .select(
            "source_file",
            "source_checksum",
            (F.col("position") + 1).cast("int").alias("source_line"),
            "line",
        )
    )

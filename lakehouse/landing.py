"""The landing zone: which files a source has, and their lines with file and line number."""

from __future__ import annotations

from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

SOURCES = ("customer", "accelerometer", "step_trainer")
LINES_SCHEMA = "source_file STRING, source_line INT, line STRING"


def landing_files(landing: str, source: str) -> list[str]:
    """Every `*.json` file of a source (`<landing>/<source>/*.json`), in name order."""
    return sorted(str(path) for path in Path(landing, source).glob("*.json") if path.is_file())


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per line of each file: `source_file`, `source_line` (1-based) and `line`.

    Files are read whole because the engine has no per-row file name and no line numbers;
    splitting each file's text gives both exactly.
    """
    if not files:
        return spark.createDataFrame([], LINES_SCHEMA)
    texts = [
        spark.read.text(path, wholetext=True).select(
            F.lit(path).alias("source_file"), F.col("value")
        )
        for path in files
    ]
    # Drop the final newline first: filtering exploded lines on their position is far slower.
    whole = reduce(DataFrame.unionByName, texts).select(
        "source_file", F.regexp_replace("value", "\n$", "").alias("value")
    )
    return (
        whole.where(F.col("value") != "")  # an empty file has no lines
        .select("source_file", F.posexplode(F.split("value", "\n")).alias("position", "line"))
        .select(
            "source_file",
            (F.col("position") + 1).cast("int").alias("source_line"),
            F.regexp_replace("line", "\r$", "").alias("line"),
        )
    )

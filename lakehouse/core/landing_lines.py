"""The lines of landing files as the engine's rows (see `lakehouse.core.landing`).

Apart from the listing, which needs no engine: a run that finds nothing new never imports this.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.core.landing import LINES_SCHEMA, LandingFile, careful_lines
from lakehouse.core.storage import join, remove_tree, upload_file

_ARROW_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_checksum", pa.string()),
        ("source_line", pa.int32()),
        ("line", pa.string()),
        ("problem", pa.string()),
    ]
)
_BATCH_ROWS = 65_536


@contextmanager
def landing_lines(
    spark: SparkSession, files: list[LandingFile], scratch: str
) -> Iterator[DataFrame]:
    """One row per line (or array element) of each file, with file, checksum and line number.

    Files read in Python are copied to Parquet under `scratch` for the engine to read; the
    copy holds raw records, so it is removed when the block ends, whatever happens in it.
    """
    direct = [file for file in files if file.careful is None]
    careful = [file for file in files if file.careful is not None]
    frames = [_engine_lines(spark, direct)] if direct else []
    try:
        if careful:
            for number, file in enumerate(careful):
                _write_copy(file, join(scratch, f"part-{number:05d}.parquet"))
            frames.append(spark.read.schema(LINES_SCHEMA).parquet(scratch))
        yield (
            reduce(DataFrame.unionByName, frames)
            if frames
            else spark.createDataFrame([], LINES_SCHEMA)
        )
    finally:
        if careful:
            remove_tree(scratch)


def _engine_lines(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    # Files are read whole because the engine has no per-row file name and no line numbers;
    # splitting each file's text gives both exactly.
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
    # `\z`, not `$`: on the JVM `$` also matches before a final U+2028 or U+0085.
    whole = balanced_union(texts).select(
        "source_file", "source_checksum", F.regexp_replace("value", "\r?\n\\z", "").alias("value")
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
            F.lit(None).cast("string").alias("problem"),
        )
    )


def balanced_union(frames: list[DataFrame]) -> DataFrame:
    """The union of `frames` as a tree of depth log2(n), not a chain of depth n.

    The embedded engine plans a union recursively: a chain of a few hundred reads (a backlog
    of hourly files, a new warehouse over months of landing files) overflowed its stack and
    killed the process (SIGSEGV at about 300 files here); a balanced tree of 5,000 reads plans
    in about two seconds.
    """
    if len(frames) == 1:
        return frames[0]
    middle = len(frames) // 2
    return balanced_union(frames[:middle]).unionByName(balanced_union(frames[middle:]))


def _write_copy(file: LandingFile, destination: str) -> None:
    with tempfile.TemporaryDirectory(prefix="stedi-landing-") as folder:
        local = Path(folder) / "copy.parquet"
        with pq.ParquetWriter(local, _ARROW_SCHEMA) as writer:
            batch: list[tuple[int, str | None, str | None]] = []
            for row in careful_lines(file.path):
                batch.append(row)
                if len(batch) == _BATCH_ROWS:
                    writer.write_table(_table(file, batch))
                    batch = []
            writer.write_table(_table(file, batch))
        upload_file(local, destination)


def _table(file: LandingFile, rows: list[tuple[int, str | None, str | None]]) -> pa.Table:
    return pa.table(
        {
            "source_file": [file.path] * len(rows),
            "source_checksum": [file.checksum] * len(rows),
            "source_line": pa.array([row[0] for row in rows], pa.int32()),
            "line": [row[1] for row in rows],
            "problem": [row[2] for row in rows],
        },
        schema=_ARROW_SCHEMA,
    )

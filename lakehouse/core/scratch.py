"""Scratch copies of intermediate results, in the warehouse but outside the catalog.

The engine recomputes a DataFrame each time a plan uses it. Where one result feeds two writes
(bronze's landing and quarantine rows) or a MERGE that reads its source twice, computing it
once into scratch space and reading the copy is cheaper. Copies can hold personal data, so
they are removed as soon as the block that uses them ends, whatever happens in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

from lakehouse.core import fence
from lakehouse.core.storage import join, remove_tree

STAGING = "_staging"
SHARED = "run"  # under STAGING: copies that live as long as one run (`RunContext.shared`)


@contextmanager
def staged(
    spark: SparkSession, rows: DataFrame, warehouse: str, name: str, *, when: bool = True
) -> Iterator[DataFrame]:
    """Yield `rows` computed once and read back from `<warehouse>/_staging/<name>`.

    With `when=False`, yield `rows` as they are (nothing worth copying, e.g. no new files).
    """
    if not when:
        yield rows
        return
    location = join(warehouse, STAGING, name)
    fence.check()  # a run that lost the warehouse must not write over the new holder's copy
    try:
        rows.write.format("delta").mode("overwrite").save(location)
        yield spark.read.format("delta").load(location)
    finally:
        if not fence.lost():
            remove_tree(location)

"""One embedded-engine session for the whole test run, and small helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Config, load_config
from lakehouse.engine import open_session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    with open_session(load_config()) as session:
        yield session


@pytest.fixture
def make_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Compose the real configuration with a landing zone and warehouse under tmp_path."""

    def make(*overrides: str) -> Config:
        return load_config(
            [
                f"paths.landing={tmp_path / 'landing'}",
                f"paths.warehouse={tmp_path / 'warehouse'}",
                *overrides,
            ]
        )

    return make


def rows(df: DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    """The frame's rows as sorted tuples (order-insensitive comparison)."""
    selected = df.select(*columns) if columns else df
    return sorted(tuple(row) for row in selected.collect())


def sorted_rows(values: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(values)

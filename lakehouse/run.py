"""What every job receives (`RunContext`) and returns (`TableResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession

from lakehouse.catalog import TableSpec, ensure_table
from lakehouse.config import Config
from lakehouse.merge import MergeResult, merge_into


@dataclass(frozen=True)
class RunContext:
    spark: SparkSession
    config: Config
    run_id: str
    started_at: datetime

    @property
    def warehouse(self) -> str:
        return self.config.paths.warehouse

    def ensure(self, *tables: TableSpec) -> None:
        for table in tables:
            ensure_table(self.spark, table, self.warehouse)

    def merge(
        self, source: DataFrame, table: TableSpec, *, delete_unmatched: bool = False
    ) -> MergeResult:
        return merge_into(
            self.spark, source, table, self.warehouse, delete_unmatched=delete_unmatched
        )


@dataclass(frozen=True)
class TableResult:
    """One line of a run's summary."""

    table: str
    read: int
    inserted: int
    updated: int
    deleted: int
    quarantined: int
    version: int | None

    @classmethod
    def of(cls, merge: MergeResult, *, read: int, quarantined: int = 0) -> TableResult:
        return cls(
            table=merge.table,
            read=read,
            inserted=merge.inserted,
            updated=merge.updated,
            deleted=merge.deleted,
            quarantined=quarantined,
            version=merge.version_after,
        )


@dataclass(frozen=True)
class TableJob:
    """Builds one table (bronze jobs also feed the quarantine) and reports what it did."""

    table: str
    run: Callable[[RunContext], list[TableResult]]


def source_rows(merge: MergeResult, source: DataFrame) -> int:
    """Rows the MERGE read: from its commit metrics, or counted when it committed nothing."""
    return int(merge.source_rows) if merge.source_rows is not None else source.count()

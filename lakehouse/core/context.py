"""What every job receives (`RunContext`) and returns (`TableResult`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from lakehouse.core import fence
from lakehouse.core.catalog import TableSpec, ensure_properties, ensure_table
from lakehouse.core.config import Config
from lakehouse.core.rules import Rule, RuleOutcome
from lakehouse.core.scratch import SHARED, STAGING
from lakehouse.core.storage import join

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.core.merge import MergeResult


@dataclass
class Batches:
    """The batch numbers of a run: what it stamps on what it ingests, and the newest so far.

    Ingesting jobs stamp their rows with `current` (one more than the newest batch when the
    run began) and call `stamped()` once they recorded it; incremental tables then process
    everything through `newest`. Counted once per run, not read back from the tables.
    """

    current: int
    used: bool = False

    @classmethod
    def after(cls, newest: int) -> Batches:
        return cls(newest + 1)

    @property
    def newest(self) -> int:
        return self.current if self.used else self.current - 1

    def stamped(self) -> None:
        self.used = True


@dataclass(frozen=True)
class Watermark:
    """How far a table has processed the bronze batches (see `lakehouse.core.increments`)."""

    through_batch: int
    table_version: int | None
    config_digest: str


@dataclass
class Watermarks:
    """Every table's watermark, read once per run (None: not read yet) and kept current by
    the run's own writes: only the run holding the warehouse writes them."""

    by_table: dict[str, Watermark] | None = None


@dataclass(frozen=True)
class RunOptions:
    """How a run builds its tables, beyond the configuration."""

    # Tables rebuilt in full from bronze whatever their watermark says (`--full-refresh`).
    full_refresh: frozenset[str] = frozenset()
    # Also judge the table checks (unique, row count) before each commit (`run --test`).
    test: bool = False
    # Each table's data-quality rules (`lakehouse.core.expectations`), by qualified name.
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    # Where `drop` rules put the rows they keep out (the application's quarantine table).
    quarantine: TableSpec | None = None
    # Draw a new pseudonym salt before building (`run --rekey`); the run rebuilds every table.
    rekey: bool = False


@dataclass(frozen=True)
class RunContext:
    spark: SparkSession
    config: Config
    run_id: str
    started_at: datetime
    batches: Batches
    # A digest of the rules and settings incremental tables are built with: when it changes,
    # they are rebuilt in full (see `increments`). The application decides what enters it.
    settings_digest: str
    # Tables known to exist and be registered in this run (saves catalog round trips).
    ensured: set[str] = field(default_factory=set, compare=False)
    options: RunOptions = field(default_factory=RunOptions, compare=False)
    # What every rule judged in this run, for the run log (`ops.rule_results`).
    rule_outcomes: list[RuleOutcome] = field(default_factory=list, compare=False)
    # Results computed once in this run and shared by the jobs that need them (see `shared`).
    _shared: dict[str, DataFrame] = field(default_factory=dict, compare=False, repr=False)
    watermarks: Watermarks = field(default_factory=Watermarks, compare=False, repr=False)

    @property
    def warehouse(self) -> str:
        return self.config.paths.warehouse

    @property
    def deletion_vectors(self) -> bool:
        return self.config.tables.deletion_vectors

    def ensure(self, *tables: TableSpec) -> None:
        for table in tables:
            if table.qualified_name not in self.ensured:
                ensure_table(
                    self.spark, table, self.warehouse, deletion_vectors=self.deletion_vectors
                )
                self.ensured.add(table.qualified_name)

    def ensure_properties(self, table: TableSpec) -> bool:
        """The table's properties as its DDL and this run's configuration set them (see
        `catalog.ensure_properties`); True if they changed."""
        return ensure_properties(
            self.spark, table, self.warehouse, deletion_vectors=self.deletion_vectors
        )

    def shared(self, name: str, rows: Callable[[], DataFrame]) -> DataFrame:
        """`rows()` computed once in this run, into scratch space, and read back: every call
        with the same name gets the same copy. Copies can hold personal data; the run removes
        them when it ends (`lakehouse.app.pipeline.operation`), or the next run does."""
        if name not in self._shared:
            location = join(self.warehouse, STAGING, SHARED, name)
            fence.check()  # scratch space is the warehouse holder's alone
            rows().write.format("delta").mode("overwrite").save(location)
            self._shared[name] = self.spark.read.format("delta").load(location)
        return self._shared[name]

    def table(self, table: TableSpec) -> DataFrame:
        """The table by name, created empty first if it does not exist yet."""
        self.ensure(table)
        return self.spark.table(table.qualified_name)

    def merge(
        self,
        source: DataFrame,
        table: TableSpec,
        *,
        delete_unmatched: bool = False,
        scope: DataFrame | None = None,
        empty: bool = False,
    ) -> MergeResult:
        from lakehouse.core.merge import merge_into  # the engine's: not for what only reports

        return merge_into(
            self.spark,
            source,
            table,
            self.warehouse,
            delete_unmatched=delete_unmatched,
            scope=scope,
            empty=empty,
        )

    def append(
        self, source: DataFrame, table: TableSpec, *, data_files: int | None = None
    ) -> MergeResult:
        from lakehouse.core.merge import append_into

        return append_into(self.spark, source, table, self.warehouse, data_files=data_files)


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
    version_before: int | None = None
    # What the run summary says beside the numbers (files skipped, lines repaired, ...).
    notes: tuple[str, ...] = ()

    @classmethod
    def unchanged(cls, table: TableSpec, version: int | None) -> TableResult:
        return cls(table.qualified_name, 0, 0, 0, 0, 0, version, version)

    @classmethod
    def of(
        cls,
        merge: MergeResult,
        *,
        read: int,
        quarantined: int = 0,
        notes: list[str] | tuple[str, ...] = (),
    ) -> TableResult:
        return cls(
            table=merge.table,
            read=read,
            inserted=merge.inserted,
            updated=merge.updated,
            deleted=merge.deleted,
            quarantined=quarantined,
            version=merge.version_after,
            version_before=merge.version_before,
            notes=tuple(notes),
        )


@dataclass(frozen=True)
class TableJob:
    """Builds one table (bronze jobs also feed the quarantine) and reports what it did.

    `upstream`: the tables its job reads, which a run builds first (selectors and skipping
    the tables downstream of a failed rule follow them).
    """

    table: str
    run: Callable[[RunContext], list[TableResult]]
    upstream: tuple[str, ...] = ()


def source_rows(merge: MergeResult, source: DataFrame) -> int:
    """Rows the MERGE read: from its commit metrics, or counted when it committed nothing."""
    return int(merge.source_rows) if merge.source_rows is not None else source.count()

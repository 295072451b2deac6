"""Right to erasure: remove one customer's rows from every table, bronze included.

People are matched by their canonical email (`lakehouse.core.identity`), so every spelling an
export used is found (case, spaces, invisible characters, full-width letters). Rows are deleted
with the same MERGE path as every write (a deletion scope and no new rows); a table with
deletion vectors is rewritten without them instead, so no file it reads keeps their bytes.
Either way each table gets one new version. The person goes on the suppression list, so no later
delivery brings them back. Old versions still hold the data until `vacuum` deletes their files;
`erase` runs it with a configurable retention. The run log records the erasure under a digest of
the email, never the email itself. Files in the landing zone are outside the warehouse: the
report names the ones holding the customer's records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.tables import LANDING_TABLES, QUARANTINE
from gold.tables import CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from lakehouse.app.errors import NothingToErase
from lakehouse.app.maintenance import (
    DEFAULT_RETAIN_HOURS,
    Vacuumed,
    forget_history,
    vacuum,
    with_vacuum,
)
from lakehouse.core.catalog import TableSpec
from lakehouse.core.context import RunContext, TableResult
from lakehouse.core.delta_log import may_hold_deletion_vectors, table_version
from lakehouse.core.erasures import (
    ErasureRequest,
    complete_erasure,
    record_request,
    unfinished_erasure,
)
from lakehouse.core.faults import fault_point
from lakehouse.core.identity import canonical_email, email_digest, email_identity
from lakehouse.core.merge import rewrite_without
from lakehouse.core.ops_tables import ERASURES, SUPPRESSION_LIST
from lakehouse.core.suppression import emails_in
from silver.changes import MOMENT
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from silver.transforms import FIELD_SEPARATOR


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: per table, and what it leaves outside the warehouse."""

    results: list[TableResult]
    landing_files: list[str]
    # The tables that held the person's rows (vacuumed and, with no retention, cut).
    tables: list[str]
    retain_hours: int
    # The unfinished erasure of the same person this one finished, if any.
    finished: ErasureRequest | None = None
    vacuumed: list[Vacuumed] = field(default_factory=list)

    @property
    def run_log(self) -> list[TableResult]:
        """One run-log line per table: its deletion and the vacuum's commits."""
        return with_vacuum(self.results, self.vacuumed)

    @property
    def files_deleted(self) -> int:
        return sum(v.files_deleted or 0 for v in self.vacuumed)


@dataclass(frozen=True)
class Planned:
    """The rows of one table an erasure deletes."""

    table: TableSpec
    rows: DataFrame


def customer_key(salt: str, email: str) -> str:
    """The pseudonym gold uses (the same as `silver.transforms.pseudonym`)."""
    return hashlib.sha256(f"{salt}{FIELD_SEPARATOR}{person_of(email)}".encode()).hexdigest()


def person_of(email: str) -> str:
    """The canonical email; NothingToErase for a text that is no address (it names nobody)."""
    person = canonical_email(email)
    if person is None:
        raise NothingToErase(
            "not an email address once normalised (invisible characters removed, NFKC, "
            "trimmed): it names nobody, and nothing was erased"
        )
    return person


def erasure_plan(spark: SparkSession, salt: str, email: str, tables: set[str]) -> list[Planned]:
    """The rows each existing table (of `tables`, qualified names) holds of the person."""
    person = person_of(email)

    def read(table: TableSpec) -> DataFrame | None:
        return spark.table(table.qualified_name) if table.qualified_name in tables else None

    def theirs(column: str) -> Callable[[DataFrame], DataFrame]:
        return lambda rows: rows.where(email_identity(F.col(column)) == F.lit(person))

    # Step readings carry no identity: theirs are those at their serial numbers and times,
    # found from bronze and silver both and deleted before either, so an erasure cut short
    # and run again still finds them.
    sources = (
        (read(LANDING_TABLES["customer"]), read(LANDING_TABLES["accelerometer"])),
        (read(CUSTOMER_TRUSTED), read(ACCELEROMETER_TRUSTED)),
    )
    pairs = [
        theirs("email")(customers)
        .select("serialNumber")
        .distinct()
        .crossJoin(theirs("user")(readings).select(F.col("timestamp").alias("sensorReadingTime")))
        for customers, readings in sources
        if customers is not None and readings is not None
    ]
    moments = None
    if pairs:
        union = reduce(DataFrame.unionByName, pairs).distinct()
        moments = spark.createDataFrame(union.collect(), union.schema)  # before deleting

    def at_moments(rows: DataFrame) -> DataFrame:
        if moments is None:
            return rows.limit(0)
        return rows.join(moments, list(MOMENT), "left_semi")

    key = customer_key(salt, person)

    def naming_them(rows: DataFrame) -> DataFrame:
        # Landing lines name them by email; rows a data-quality rule dropped from silver or
        # gold (`expectations`) by email, by pseudonym, or, for step readings, by moment.
        named = rows.where(F.array_contains(emails_in("raw"), person) | F.col("raw").contains(key))
        dropped = rows.where(~F.col("source").isin(*LANDING_TABLES))
        moment = F.from_json("raw", "sensorReadingTime BIGINT, serialNumber STRING")
        steps = at_moments(dropped.withColumns({name: moment[name] for name in MOMENT})).select(
            *rows.columns
        )
        return named.unionByName(steps).dropDuplicates(list(QUARANTINE.keys))

    steps: list[tuple[TableSpec, Callable[[DataFrame], DataFrame]]] = [
        (LANDING_TABLES["step_trainer"], at_moments),
        (STEP_TRAINER_TRUSTED, at_moments),
        (LANDING_TABLES["customer"], theirs("email")),
        (LANDING_TABLES["accelerometer"], theirs("user")),
        (QUARANTINE, naming_them),
        (CUSTOMER_TRUSTED, theirs("email")),
        (ACCELEROMETER_TRUSTED, theirs("user")),
        (CUSTOMER_CURATED, theirs("email")),
        (MACHINE_LEARNING_CURATED, lambda rows: rows.where(F.col("customer_key") == key)),
    ]
    return [
        Planned(table, select(frame))
        for table, select in steps
        if (frame := read(table)) is not None
    ]


def erase(ctx: RunContext, email: str, retain_hours: int) -> Erasure:
    """The whole erasure: delete the person's rows everywhere, vacuum with `retain_hours`
    (with 0, also cut each changed table's log at the erasure), then record it complete.

    The request is recorded (`ops.erasures`) before the first row goes, so an erasure cut
    short at any step is finished by erasing the same person again, and known unfinished to
    `vacuum` and `audit consent` until then. Raises `NothingToErase` (and changes nothing)
    when no table holds a row of theirs and no erasure of theirs is unfinished.
    """
    deleted = erase_customer(ctx, email, retain_hours)
    retain = deleted.retain_hours
    vacuumed = vacuum(ctx, sorted(ctx.ensured), retain)
    if retain == 0:
        vacuumed = forget_history(ctx, vacuumed, [*deleted.tables, ERASURES.qualified_name])
    fault_point("erasure:completing")
    complete_erasure(ctx, email_digest(email))
    return replace(deleted, vacuumed=vacuumed)


def erase_customer(
    ctx: RunContext, email: str, retain_hours: int = DEFAULT_RETAIN_HOURS
) -> Erasure:
    """Record the erasure, put the person on the suppression list and delete their rows
    everywhere (the first part of `erase`: old versions still hold them until vacuum).

    An unfinished erasure of the same person is taken over: its tables, landing files and
    (when shorter) retention join this one's.
    """
    digest = email_digest(email)
    earlier = unfinished_erasure(ctx, digest)
    plan = erasure_plan(ctx.spark, ctx.config.privacy.pseudonym_salt, email, set(ctx.ensured))
    counts = {planned.table.qualified_name: planned.rows.count() for planned in plan}
    if not any(counts.values()) and earlier is None:
        raise NothingToErase(
            f"no table holds a row of {digest} (emails are matched in their canonical form: "
            "trimmed, lower-cased, NFKC): nothing was erased. Check the address, or "
            "`lakehouse runs` for an earlier erasure"
        )
    # The landing files that name them: their records, and lines quarantined naming them.
    file_columns = {
        LANDING_TABLES["customer"]: "_source_file",
        LANDING_TABLES["accelerometer"]: "_source_file",
        QUARANTINE: "source_file",
    }
    files = {
        row[0]
        for planned in plan
        if planned.table in file_columns
        for row in _from_landing(planned).select(file_columns[planned.table]).distinct().collect()
    }
    # A table with deletion vectors may hold their rows deleted earlier (a withdrawn
    # consent) in files it still reads: it is rewritten whether or not rows are visible.
    rewrites = {
        planned.table.qualified_name
        for planned in plan
        if may_hold_deletion_vectors(planned.table.location(ctx.warehouse))
    }
    tables = {name for name, count in counts.items() if count} | rewrites
    if earlier is not None:
        files |= set(earlier.landing_files)
        tables |= set(earlier.tables)
        retain_hours = min(retain_hours, earlier.retain_hours)
    suppress(ctx, email)
    request = ErasureRequest(
        digest,
        earlier.run_id if earlier else ctx.run_id,
        earlier.requested_at if earlier else ctx.started_at,
        retain_hours,
        sorted(tables),
        sorted(files),
    )
    record_request(ctx, request)
    for planned in plan:  # rewritten files then carry no statistics that name the person
        ctx.ensure_properties(planned.table)
    results = []
    for planned in plan:
        name = planned.table.qualified_name
        if name in rewrites or counts[name]:
            results.append(delete_rows(ctx, planned, rewrite=name in rewrites))
        else:
            results.append(_untouched(ctx, planned))
    return Erasure(results, request.landing_files, request.tables, retain_hours, earlier)


def _from_landing(planned: Planned) -> DataFrame:
    """The planned rows read from landing files (the quarantine also holds rows rules dropped)."""
    if planned.table == QUARANTINE:
        return planned.rows.where(F.col("source").isin(*LANDING_TABLES))
    return planned.rows


def suppress(ctx: RunContext, email: str) -> None:
    """Put the person on the suppression list (first, so a crash cannot let them back in)."""
    entry = ctx.spark.createDataFrame(
        [(email_digest(email), ctx.started_at, ctx.run_id)],
        SUPPRESSION_LIST.row_schema,
    )
    ctx.merge(entry, SUPPRESSION_LIST)


def delete_rows(ctx: RunContext, planned: Planned, *, rewrite: bool) -> TableResult:
    """Delete the planned rows: a MERGE with them as deletion scope and no new rows, or, when
    `rewrite` (a table with deletion vectors), a rewrite of the table without them (no byte
    may stay)."""
    scope = planned.rows.select(*planned.table.keys)
    if rewrite:
        merge = rewrite_without(ctx.spark, scope, planned.table, ctx.warehouse)
    else:
        merge = ctx.merge(ctx.table(planned.table).limit(0), planned.table, scope=scope)
    return TableResult.of(merge, read=0)


def _untouched(ctx: RunContext, planned: Planned) -> TableResult:
    return TableResult.unchanged(
        planned.table, table_version(planned.table.location(ctx.warehouse))
    )

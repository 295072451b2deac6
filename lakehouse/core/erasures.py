"""Erasure requests (`ops.erasures`): durable from the moment an erasure is asked for.

An erasure takes several commits (one per table), a vacuum and, with no retention, a cut of
each table's log; a kill, Ctrl-C or a storage outage can stop it between any two. The request
is recorded before the first row goes and marked complete after the last step, so until then
every later `erase` of the person finishes it, and `vacuum` and `audit consent` report it.
The person is named by digest only; the email is needed to finish (it is never stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.core.context import RunContext
from lakehouse.core.ops_tables import ERASURES, SUPPRESSION_LIST

# Erasures recorded before requests were (only the suppression list knows them) are taken to
# have had the command's default retention.
ASSUMED_RETAIN_HOURS = 168


@dataclass(frozen=True)
class ErasureRequest:
    digest: str
    run_id: str
    requested_at: datetime
    retain_hours: int
    tables: list[str]
    landing_files: list[str]
    completed_at: datetime | None = None

    def describe(self) -> str:
        return f"the erasure of {self.digest} asked for in run {self.run_id}"


def record_request(ctx: RunContext, request: ErasureRequest) -> None:
    """Record (or update) the person's request as unfinished."""
    row = (
        request.digest,
        request.run_id,
        request.requested_at,
        request.retain_hours,
        request.tables,
        request.landing_files,
        None,
        None,
    )
    ctx.merge(ctx.spark.createDataFrame([row], ERASURES.row_schema), ERASURES)


def complete_erasure(ctx: RunContext, digest: str) -> None:
    """Mark the person's request complete: every step of the erasure is done."""
    done = (
        ctx.table(ERASURES)
        .where(F.col("digest") == digest)
        .withColumns(
            {
                "completed_at": F.lit(ctx.started_at).cast("timestamp"),
                "completed_by": F.lit(ctx.run_id),
            }
        )
    )
    ctx.merge(ctx.spark.createDataFrame(done.collect(), ERASURES.row_schema), ERASURES)


def unfinished_erasure(ctx: RunContext, digest: str) -> ErasureRequest | None:
    """The person's request if an erasure of theirs was cut short."""
    found = [r for r in unfinished_erasures(ctx) if r.digest == digest]
    return found[0] if found else None


def unfinished_erasures(ctx: RunContext) -> list[ErasureRequest]:
    return [r for r in erasure_requests(ctx.table(ERASURES)) if r.completed_at is None]


def erasure_requests(rows: DataFrame) -> list[ErasureRequest]:
    return [
        ErasureRequest(
            row["digest"],
            row["run_id"],
            row["requested_at"],
            row["retain_hours"],
            list(row["tables"] or []),
            list(row["landing_files"] or []),
            row["completed_at"],
        )
        for row in rows.orderBy("requested_at", "digest").collect()
    ]


def retention_over(requests: DataFrame, suppressed: DataFrame, now: datetime) -> DataFrame:
    """The digests of erased people whose erasure's retention is over at `now`: no file of the
    warehouse may hold them any more. Unfinished requests count (their retention runs from the
    request); people only on the suppression list (erased before requests were recorded) are
    taken to have had `ASSUMED_RETAIN_HOURS`."""
    recorded = requests.select(
        "digest", F.col("requested_at").alias("since"), F.col("retain_hours").alias("hours")
    )
    legacy = suppressed.join(requests, "digest", "left_anti").select(
        "digest",
        F.col("erased_at").alias("since"),
        F.lit(ASSUMED_RETAIN_HOURS).alias("hours"),
    )
    seconds = F.col("hours").cast("long") * 3600
    over = F.unix_timestamp(F.lit(now).cast("timestamp")) - F.unix_timestamp("since") >= seconds
    return recorded.unionByName(legacy).where(over).select("digest").distinct()


def vacuum_retention(ctx: RunContext, retain_hours: float, now: datetime) -> float:
    """The retention a vacuum uses so that no erasure's retention outlives its promise.

    Files an erasure replaced must go once its own retention is over, even when vacuum is
    asked to keep more (say, the default week after an erasure of 24 hours): the vacuum then
    keeps only what is younger than the erasure.
    """
    requests = ctx.table(ERASURES).select("requested_at", "retain_hours").collect()
    legacy = (
        ctx.table(SUPPRESSION_LIST)
        .join(ctx.table(ERASURES), "digest", "left_anti")
        .select("erased_at")
        .collect()
    )
    windows = [(r["requested_at"], r["retain_hours"]) for r in requests] + [
        (r["erased_at"], ASSUMED_RETAIN_HOURS) for r in legacy
    ]
    shortest = retain_hours
    for since, hours in windows:
        if since is None:
            continue
        age = now - since.replace(tzinfo=since.tzinfo or UTC)
        if age >= timedelta(hours=hours):
            shortest = min(shortest, age // timedelta(hours=1))
    return shortest

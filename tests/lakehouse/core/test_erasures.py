"""Erasure requests: which retention a vacuum may keep, and whose retention is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from lakehouse.app.pipeline import operation
from lakehouse.core.erasures import (
    ErasureRequest,
    complete_erasure,
    record_request,
    retention_over,
    unfinished_erasures,
    vacuum_retention,
)
from lakehouse.core.ops_tables import ERASURES, SUPPRESSION_LIST

ERASED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def request(digest: str, hours: int) -> ErasureRequest:
    return ErasureRequest(digest, "r1", ERASED_AT, hours, ["silver.customer_trusted"], ["a.json"])


def test_a_vacuum_keeps_nothing_older_than_an_erasure_whose_retention_is_over(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config
):
    with operation(spark, make_config(), "test", "erasures") as (ctx, _):
        assert vacuum_retention(ctx, 168, ERASED_AT) == 168  # no erasure yet
        record_request(ctx, request("sha256:a", 24))
        assert [r.digest for r in unfinished_erasures(ctx)] == ["sha256:a"]
        complete_erasure(ctx, "sha256:a")
        assert unfinished_erasures(ctx) == []

        def hours_kept(later: timedelta, asked: float = 168) -> float:
            return vacuum_retention(ctx, asked, ERASED_AT + later)

        assert hours_kept(timedelta(hours=23)) == 168  # within its 24 hours: as asked
        assert hours_kept(timedelta(hours=30, minutes=59)) == 30  # over: younger files only
        assert hours_kept(timedelta(hours=30), asked=12) == 12  # asked for less: as asked
        assert hours_kept(timedelta(days=30)) == 168  # long over: the erasure's files are gone


def test_whose_retention_is_over(spark: SparkSession) -> None:
    requests = spark.createDataFrame(
        [
            ("sha256:now", "r1", ERASED_AT, 0, [], [], None, None),
            ("sha256:day", "r2", ERASED_AT, 24, [], [], None, None),
        ],
        ERASURES.row_schema,
    )
    suppressed = spark.createDataFrame(
        [("sha256:day", ERASED_AT, "r2"), ("sha256:old", ERASED_AT, "r0")],
        SUPPRESSION_LIST.row_schema,
    )

    def over(later: timedelta) -> set[str]:
        found = retention_over(requests, suppressed, ERASED_AT + later).collect()
        return {row["digest"] for row in found}

    assert over(timedelta(0)) == {"sha256:now"}
    assert over(timedelta(hours=24)) == {"sha256:now", "sha256:day"}
    # Erased before requests were recorded: the command's default week is assumed.
    assert over(timedelta(hours=168)) == {"sha256:now", "sha256:day", "sha256:old"}

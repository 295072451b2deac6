"""The warehouse lock on S3: a lease object written with S3's conditional writes.

S3 has no file locks, so a run creates `<warehouse>/_lakehouse.lock` only if it does not exist
(`If-None-Match: *`), names itself in it, and renews it every third of `lease_seconds` (a
rewrite that succeeds only if the object is still the one it wrote, `If-Match: <etag>`). A run
that dies stops renewing; once the lease is older than `lease_seconds` another run may take it
over, again with `If-Match`, so two runs can never both win. Releasing deletes the object only
if it is still this run's.

A run that stalls (paused, or cut off from storage) past `lease_seconds` loses the lease while
it still lives. So the lease is also the run's fence (`lakehouse.core.fence`): before every
commit the run renews it, and a renewal refused because the object is no longer its own stops
the run with `LeaseLost` before it writes. A lease's age is measured on S3's clock alone (the
`Date` of the response against the object's `LastModified`): hosts whose clocks disagree
cannot take each other's live lease.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.exceptions

from lakehouse.core.fence import LeaseLost, holding
from lakehouse.core.interrupt import released_on_forced_exit
from lakehouse.core.storage import s3_client, split_s3

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.5
_STOP_SECONDS = 5.0


class LeaseHeld(RuntimeError):
    """Another run held the lease for the whole wait; the message names it."""


@contextmanager
def s3_lease(
    uri: str, holder: dict[str, Any], timeout_seconds: float, lease_seconds: float
) -> Iterator[None]:
    """Hold the lease object at `uri` for the block; raise `LeaseHeld` naming the holder.

    Within the block `fence.check()` renews the lease and raises `LeaseLost` if it was taken.
    """
    bucket, key = split_s3(uri)
    client = s3_client()
    body = json.dumps(holder).encode()
    deadline = time.monotonic() + max(timeout_seconds, 0)
    observed: dict[str, float] = {}
    etag = _acquire(client, bucket, key, body, lease_seconds, observed)
    while etag is None:
        if time.monotonic() >= deadline:
            raise LeaseHeld(_describe(client, bucket, key))
        time.sleep(_POLL_SECONDS)
        etag = _acquire(client, bucket, key, body, lease_seconds, observed)
    lease = _Lease(client, bucket, key, body, etag, lease_seconds)

    def release_now() -> None:
        lease.stopped.set()
        if lease.lost is None:
            _release(client, bucket, key, lease.etag)

    # On Ctrl-C too: the lease must go now, not expire after lease_seconds, even when the
    # cleanup before it outlasts the interrupt's grace and the process is ended.
    try:
        with (
            released_on_forced_exit(release_now),
            holding(lease.renew, lambda: lease.lost is not None),
        ):
            lease.start()
            yield
    finally:
        lease.stop()
        if lease.lost is None:  # a lost lease is another run's: never delete it
            try:
                _release(client, bucket, key, lease.etag)
            except Exception as error:
                log.warning(
                    "could not release the warehouse lease (%s): it expires after "
                    "run.lease_seconds (%gs)",
                    error,
                    lease_seconds,
                )


def _acquire(
    client: Any,
    bucket: str,
    key: str,
    body: bytes,
    lease_seconds: float,
    observed: dict[str, float],
) -> str | None:
    """This run's ETag if it now holds the lease, else None.

    `observed`: when this run first saw each version of the held lease (its own monotonic
    clock), for a store whose responses carry no `Date`.
    """
    try:
        return str(client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")["ETag"])
    except botocore.exceptions.ClientError as error:
        if not _precondition_failed(error):
            raise
    try:
        current = client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError:
        return None  # released in between: the next attempt may create it
    age = _age(current, observed)
    if age < lease_seconds:
        return None
    log.warning("taking over the warehouse lease, not renewed for %.0fs", age)
    try:
        put = client.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=current["ETag"])
    except botocore.exceptions.ClientError as error:
        if _precondition_failed(error):
            return None  # someone else took it over first
        raise
    return str(put["ETag"])


def _age(current: dict[str, Any], observed: dict[str, float]) -> float:
    """How long the lease has gone unrenewed at least, never by comparing two hosts' clocks.

    S3's `Date` and `LastModified` come from one clock, both in whole seconds: the true age
    exceeds their difference less one second. Without a `Date`, the age is how long this run
    has seen the same version (its ETag) on its own monotonic clock.
    """
    date = current.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        return (parsedate_to_datetime(date) - current["LastModified"]).total_seconds() - 1
    first_seen = observed.setdefault(str(current["ETag"]), time.monotonic())
    return time.monotonic() - first_seen


def _release(client: Any, bucket: str, key: str, etag: str) -> None:
    """Delete the lease if it is still this run's; a lease already gone is fine."""
    try:
        client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except botocore.exceptions.ClientError as error:
        if _missing(error):
            return
        if not _precondition_failed(error):
            raise
        log.error("the warehouse lease was taken over before this run released it")


class _Lease(threading.Thread):
    """The held lease: renewed in the background, and on demand before each commit."""

    def __init__(
        self, client: Any, bucket: str, key: str, body: bytes, etag: str, lease_seconds: float
    ) -> None:
        super().__init__(name="warehouse-lease", daemon=True)
        self.client, self.bucket, self.key, self.body = client, bucket, key, body
        self.etag = etag
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self.stopped = threading.Event()
        # Why the lease is no longer this run's (None while it is).
        self.lost: str | None = None
        # One renewal at a time: two rewrites with the same If-Match would refuse each other.
        self._renewing = threading.Lock()

    def renew(self) -> None:
        """Rewrite the lease if it is still this run's; raise `LeaseLost` if it is not.

        A store that does not answer raises its own error: no commit without a confirmed lease.
        """
        with self._renewing:
            if self.lost is None:
                try:
                    put = self.client.put_object(
                        Bucket=self.bucket, Key=self.key, Body=self.body, IfMatch=self.etag
                    )
                    self.etag = str(put["ETag"])
                    return
                except botocore.exceptions.ClientError as error:
                    if not (_precondition_failed(error) or _missing(error)):
                        raise
                self.lost = (
                    "lost the warehouse lease: another run took it over while this one was "
                    f"paused or cut off from storage for over run.lease_seconds "
                    f"({self.lease_seconds:g}s); stopped before its next write"
                )
                log.error("%s", self.lost)
            raise LeaseLost(self.lost)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.renew()
            except LeaseLost:
                return
            except Exception as error:
                log.warning("could not renew the warehouse lease: %s", error)

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            # A renewal in flight finishes first, so the release below uses the newest ETag;
            # a store that does not answer must not hold up an interrupted run for long.
            self.join(timeout=_STOP_SECONDS)


def _precondition_failed(error: botocore.exceptions.ClientError) -> bool:
    return _code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict")


def _missing(error: botocore.exceptions.ClientError) -> bool:
    return _code(error) in ("NoSuchKey", "404", "NotFound")


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(client: Any, bucket: str, key: str) -> str:
    try:
        holder = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read() or b"{}")
    except (botocore.exceptions.ClientError, ValueError):
        return "holder unknown"
    return ", ".join(f"{name} {value}" for name, value in holder.items()) or "holder unknown"

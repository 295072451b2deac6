"""The warehouse lock on S3: a lease object written with S3's conditional writes.

S3 has no file locks, so a run creates `<warehouse>/_lakehouse.lock` only if it does not exist
(`If-None-Match: *`), names itself in it, and renews it every third of `lease_seconds` (a
rewrite that succeeds only if the object is still the one it wrote, `If-Match: <etag>`). A run
that dies stops renewing; once the lease is older than `lease_seconds` another run may take it
over, again with `If-Match`, so two runs can never both win. Releasing deletes the object only
if it is still this run's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

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
    """Hold the lease object at `uri` for the block; raise `LeaseHeld` naming the holder."""
    bucket, key = split_s3(uri)
    client = s3_client()
    body = json.dumps(holder).encode()
    deadline = time.monotonic() + max(timeout_seconds, 0)
    etag = _acquire(client, bucket, key, body, lease_seconds)
    while etag is None:
        if time.monotonic() >= deadline:
            raise LeaseHeld(_describe(client, bucket, key))
        time.sleep(_POLL_SECONDS)
        etag = _acquire(client, bucket, key, body, lease_seconds)
    renewer = _Renewer(client, bucket, key, body, etag, lease_seconds)

    def release_now() -> None:
        renewer.stopped.set()
        _release(client, bucket, key, renewer.etag)

    # On Ctrl-C too: the lease must go now, not expire after lease_seconds, even when the
    # cleanup before it outlasts the interrupt's grace and the process is ended.
    try:
        with released_on_forced_exit(release_now):
            renewer.start()
            yield
    finally:
        renewer.stop()
        _release(client, bucket, key, renewer.etag)


def _acquire(client: Any, bucket: str, key: str, body: bytes, lease_seconds: float) -> str | None:
    """This run's ETag if it now holds the lease, else None."""
    try:
        return str(client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")["ETag"])
    except botocore.exceptions.ClientError as error:
        if not _precondition_failed(error):
            raise
    try:
        current = client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError:
        return None  # released in between: the next attempt may create it
    # LastModified has whole-second precision: count the lease from the end of that second.
    age = (datetime.now(UTC) - current["LastModified"]).total_seconds() - 1
    if age <= lease_seconds:
        return None
    log.warning("taking over the warehouse lease, not renewed for %.0fs", age)
    try:
        put = client.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=current["ETag"])
    except botocore.exceptions.ClientError as error:
        if _precondition_failed(error):
            return None  # someone else took it over first
        raise
    return str(put["ETag"])


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


class _Renewer(threading.Thread):
    def __init__(
        self, client: Any, bucket: str, key: str, body: bytes, etag: str, lease_seconds: float
    ) -> None:
        super().__init__(name="warehouse-lease", daemon=True)
        self.client, self.bucket, self.key, self.body = client, bucket, key, body
        self.etag = etag
        self.interval = lease_seconds / 3
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                put = self.client.put_object(
                    Bucket=self.bucket, Key=self.key, Body=self.body, IfMatch=self.etag
                )
                self.etag = str(put["ETag"])
            except botocore.exceptions.ClientError as error:
                if _precondition_failed(error):
                    log.error("lost the warehouse lease: another run took it over")
                    return
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

"""The S3 warehouse lock: a lease object with conditional writes, on a moto server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, cast

import boto3
import pytest

from lakehouse.core import fence, lease
from lakehouse.core.fence import LeaseLost
from lakehouse.core.lease import LeaseHeld, _acquire, s3_lease
from lakehouse.core.lock import LOCK_FILE, WarehouseBusy, warehouse_lock
from tests.helpers import ROOT, CuttableProxy

pytestmark = [pytest.mark.slow, pytest.mark.serial]


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def holder(run_id: str) -> dict[str, object]:
    return {"run_id": run_id}


def test_a_held_lease_makes_others_wait_then_fail_naming_the_holder(s3_env, bucket: str) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://{bucket}/wh/{LOCK_FILE}"
    with s3_lease(uri, holder("run-a"), 0, lease_seconds=30):
        started = time.monotonic()
        with pytest.raises(LeaseHeld, match="run_id run-a"), s3_lease(uri, holder("b"), 1, 30):
            pass
        assert time.monotonic() - started >= 1
        busy = pytest.raises(WarehouseBusy, match=r"in use by another run \(run_id run-a")
        with busy, warehouse_lock(f"s3://{bucket}/wh", "run-c", 0):
            pass
    # Released: the next run takes it at once, and the object is gone afterwards.
    with s3_lease(uri, holder("run-b"), 0, lease_seconds=30):
        pass
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    assert listed.get("KeyCount") == 0


def test_a_renewed_lease_lives_on_and_an_abandoned_one_is_taken_over(s3_env, bucket: str) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://{bucket}/wh/{LOCK_FILE}"
    with s3_lease(uri, holder("long-run"), 0, lease_seconds=1.5):
        time.sleep(2.5)  # longer than the lease: only renewals keep it
        with pytest.raises(LeaseHeld), s3_lease(uri, holder("b"), 0, 1.5):
            pass

    # A run that died without releasing (its object stays, never renewed).
    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key=f"wh/{LOCK_FILE}", Body=b'{"run_id": "dead"}')
    with pytest.raises(LeaseHeld, match="dead"), s3_lease(uri, holder("b"), 0, 30):
        pass
    time.sleep(2.2)  # lease (1 s) + LastModified's one-second precision
    with s3_lease(uri, holder("b"), 0, lease_seconds=1):
        body = client.get_object(Bucket=bucket, Key=f"wh/{LOCK_FILE}")["Body"].read()
        assert b'"b"' in body


def test_two_runs_racing_for_an_abandoned_lease_never_both_win(s3_env, bucket: str) -> None:  # type: ignore[no-untyped-def]
    uri = f"s3://{bucket}/wh/{LOCK_FILE}"
    boto3.client("s3").put_object(Bucket=bucket, Key=f"wh/{LOCK_FILE}", Body=b"{}")
    time.sleep(2.2)
    inside, overlaps, lock = [0], [0], threading.Lock()

    def contender(name: str) -> None:
        with s3_lease(uri, holder(name), 30, lease_seconds=1):
            with lock:
                inside[0] += 1
                overlaps[0] = max(overlaps[0], inside[0])
            time.sleep(0.3)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=contender, args=(f"run-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps[0] == 1


def test_a_run_whose_cleanup_outlasts_the_grace_still_deletes_its_lease(  # type: ignore[no-untyped-def]
    s3_env, bucket: str, tmp_path: Path
) -> None:
    """Ended by the interrupt deadline (main thread stuck), the lease goes with the process."""
    script = tmp_path / "stuck_under_lease.py"
    script.write_text(
        "import sys, time\n"
        "from lakehouse.core.interrupt import interruptible\n"
        "from lakehouse.core.lease import s3_lease\n"
        "def command():\n"
        "    with s3_lease(sys.argv[1], {'run_id': 'stuck'}, 0, lease_seconds=600):\n"
        "        try:\n"
        "            print('holding', file=sys.stderr, flush=True)\n"
        "            time.sleep(300)\n"
        "        finally:\n"
        "            time.sleep(300)  # e.g. recording the run on a store that stopped answering\n"
        "    return 0\n"
        "sys.exit(interruptible(command, grace_seconds=1))\n"
    )
    uri = f"s3://{bucket}/wh/{LOCK_FILE}"
    process = subprocess.Popen(
        [sys.executable, str(script), uri],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None and process.stderr.readline().strip() == "holding"
    assert boto3.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 1
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 143 and time.monotonic() - sent < 6, stderr
    assert "cleanup took over 1s" in stderr and "Traceback" not in stderr
    assert boto3.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    # Released for real: the next run takes the warehouse at once.
    with s3_lease(uri, holder("next"), 0, lease_seconds=30):
        pass


# --- Fencing: a run that lost the lease writes nothing more (issue 29) -------------------------


@pytest.fixture
def outage(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CuttableProxy]:
    """The lease's client reaches S3 through a proxy the test can cut; one attempt per call,
    so a call met by the outage fails at once (as botocore's retries would, only later)."""
    proxy = CuttableProxy(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield proxy
    proxy.cut()


def direct(moto_endpoint: str) -> Any:
    """A client of another host, reaching S3 without the proxy."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


def test_the_lease_is_renewed_again_after_a_storage_outage(  # type: ignore[no-untyped-def]
    outage: CuttableProxy, moto_endpoint: str, bucket: str
) -> None:
    """An outage shorter than the lease must not cost it: renewals resume once S3 answers."""
    uri, key = f"s3://{bucket}/wh/{LOCK_FILE}", f"wh/{LOCK_FILE}"
    with s3_lease(uri, holder("run-a"), 0, lease_seconds=4):
        outage.cut()
        time.sleep(2.5)  # renewals fail: EndpointConnectionError
        outage.restore()
        time.sleep(3.5)  # unrenewed since the cut, the lease would be 6 s old by now
        # Another host finds it alive: it was renewed after the outage.
        assert unrenewed_for(direct(moto_endpoint), bucket, key) < 2


def unrenewed_for(client: Any, bucket: str, key: str) -> float:
    """Seconds since the object was last written, on S3's clock (whole seconds)."""
    head = client.head_object(Bucket=bucket, Key=key)
    now = parsedate_to_datetime(head["ResponseMetadata"]["HTTPHeaders"]["date"])
    return (now - head["LastModified"]).total_seconds()


def test_a_run_that_lost_its_lease_stops_before_its_next_write(  # type: ignore[no-untyped-def]
    outage: CuttableProxy, moto_endpoint: str, bucket: str
) -> None:
    """Cut off past the lease, the run is taken over; back, it must not write again."""
    uri, key = f"s3://{bucket}/wh/{LOCK_FILE}", f"wh/{LOCK_FILE}"
    other = direct(moto_endpoint)
    with s3_lease(uri, holder("run-a"), 0, lease_seconds=2):
        outage.cut()
        deadline = time.monotonic() + 10
        while _acquire(other, bucket, key, b'{"run_id": "run-b"}', 2, {}) is None:
            assert time.monotonic() < deadline, "the lease was never taken over"
            time.sleep(0.3)
        outage.restore()
        with pytest.raises(LeaseLost, match="lost the warehouse lease"):
            fence.check()
        assert fence.lost()
    # The loser leaves the new holder's lease alone.
    assert other.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"run_id": "run-b"}'


class _ClockAhead(datetime):
    """`datetime` on a host whose clock runs 90 s ahead of S3's."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockAhead:  # type: ignore[override]
        return cast(_ClockAhead, datetime.now(tz) + timedelta(seconds=90))


def test_a_host_whose_clock_runs_ahead_cannot_take_a_live_lease(  # type: ignore[no-untyped-def]
    s3_env, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{bucket}/wh/{LOCK_FILE}"
    with s3_lease(uri, holder("run-a"), 0, lease_seconds=30):
        # The lease module of the second host reads its (wrong) clock wherever it would.
        monkeypatch.setattr(lease, "datetime", _ClockAhead, raising=False)
        with pytest.raises(LeaseHeld, match="run-a"), s3_lease(uri, holder("b"), 1, 30):
            pass

"""The benchmark's fixed-size deliveries: their sizes, their layout, their consent changes."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.deliveries import (
    DELIVERY_TIME,
    consent_delivery,
    latest_records,
    readings_delivery,
)
from lakehouse.app.generate import GenerateOptions, generate


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_readings_delivery_has_its_size_whatever_the_landing_zone(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, GenerateOptions(customers=40, readings_per_customer=5, files=2))
    delivered = readings_delivery(
        landing, tmp_path / "out", accelerometer_readings=600, customer_count=30, consent_count=4
    )
    accelerometer = lines(tmp_path / "out" / "accelerometer" / "accelerometer-delivery.json")
    steps = lines(tmp_path / "out" / "step_trainer" / "step_trainer-delivery.json")
    assert delivered.accelerometer_readings == len(accelerometer) == 600
    assert delivered.step_trainer_readings == len(steps) > 0
    # Existing customers, later than anything generated.
    known = {str(r["email"]): r for r in latest_records(landing)}
    assert {r["user"] for r in accelerometer} <= set(known)
    assert min(int(str(r["timestamp"])) for r in accelerometer) >= DELIVERY_TIME
    # Each step reading has exactly one customer with its serial reading at its millisecond.
    owners: dict[tuple[object, object], set[object]] = {}
    for reading in accelerometer:
        serial = known[str(reading["user"])]["serialNumber"]
        owners.setdefault((serial, reading["timestamp"]), set()).add(reading["user"])
    for step in steps:
        assert len(owners[(step["serialNumber"], step["sensorReadingTime"])]) == 1


def test_consent_changes_withdraw_or_grant_in_a_newer_record(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, GenerateOptions(customers=50, readings_per_customer=2, files=1))
    delivered = consent_delivery(landing, tmp_path / "out", consent_count=10)
    changes = lines(tmp_path / "out" / "customer" / "customer-consents.json")
    assert delivered.consent_changes == len(changes) == 10
    before = {str(r["email"]): r for r in latest_records(landing)}
    assert len({c["email"] for c in changes}) == 10
    for change in changes:
        old = before[str(change["email"])]
        assert int(str(change["lastUpdateDate"])) > int(str(old["lastUpdateDate"]))
        assert ("shareWithResearchAsOfDate" in change) != ("shareWithResearchAsOfDate" in old)

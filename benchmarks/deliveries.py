"""Deliveries of a fixed size, landed on top of a generated landing zone of any scale.

The benchmark's `incremental` scenario lands 1% of the data, so it grows with the scale; these
land the same absolute amount whatever the history under them, which is how a run's cost is
seen to follow the delivery rather than the history:
- `readings_delivery`: new accelerometer and step readings of existing customers (later than any
  generated reading, laid out as the generator lays them: the customers of one block of five
  read at the same milliseconds under different serial numbers), plus consent changes;
- `consent_delivery`: consent changes only (withdrawals and grants), no readings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse.app.generate import DAY, READING_INTERVAL, SHARED_SERIALS

# Far beyond any generated reading (the generator's start at most a few years later).
DELIVERY_TIME = 1_655_000_000_000 + 20 * 365 * DAY


@dataclass(frozen=True)
class Delivered:
    accelerometer_readings: int
    step_trainer_readings: int
    consent_changes: int


def customers(landing: Path) -> Iterator[dict[str, object]]:
    """Every customer record of the landing zone's customer files, in file order."""
    for file in sorted((landing / "customer").glob("*.json")):
        for line in file.read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if isinstance(record.get("email"), str):
                    yield record


def latest_records(landing: Path) -> list[dict[str, object]]:
    """Each customer's newest record (by `lastUpdateDate`), in the order customers appear."""
    latest: dict[str, dict[str, object]] = {}
    for record in customers(landing):
        email = str(record["email"])
        known = latest.get(email)
        if known is None or int(str(record["lastUpdateDate"])) >= int(str(known["lastUpdateDate"])):
            latest[email] = record
    return list(latest.values())


def consent_changes(records: list[dict[str, object]], count: int) -> list[dict[str, object]]:
    """`count` customers spread over `records`, each withdrawing or granting research consent."""
    step = max(1, len(records) // max(1, count))
    changes = []
    for record in records[::step][:count]:
        change = dict(record)
        change["lastUpdateDate"] = int(str(record["lastUpdateDate"])) + 2 * DAY
        if "shareWithResearchAsOfDate" in change:
            del change["shareWithResearchAsOfDate"]
        else:
            change["shareWithResearchAsOfDate"] = change["lastUpdateDate"]
        changes.append(change)
    return changes


def readings_delivery(
    landing: Path,
    out: Path,
    *,
    accelerometer_readings: int = 100_000,
    customer_count: int = 1_000,
    consent_count: int = 25,
    seed: int = 7,
    start: int = DELIVERY_TIME,
    name: str = "delivery",
) -> Delivered:
    """Write one new file per source into `out/<source>/<source>-<name>.json` (the
    customers' existing records stay as they are; their new readings follow the generator's
    layout, from `start` on). Without consent changes no customer file is written."""
    records = latest_records(landing)
    chosen = records[: min(customer_count, len(records))]
    per_customer = max(1, accelerometer_readings // len(chosen))
    block_span = (per_customer + 10) * READING_INTERVAL
    rng = random.Random(seed)
    accelerometer = step_trainer = 0
    for source in ("customer", "accelerometer", "step_trainer"):
        (out / source).mkdir(parents=True, exist_ok=True)
    with (
        open(out / "accelerometer" / f"accelerometer-{name}.json", "w") as accel,
        open(out / "step_trainer" / f"step_trainer-{name}.json", "w") as steps,
    ):
        for position, record in enumerate(chosen):
            begins = start + (position // SHARED_SERIALS) * block_span
            for k in range(per_customer):
                time = begins + k * READING_INTERVAL
                x, y, z = (round(rng.uniform(-1, 1), 3) for _ in range(3))
                accel.write(
                    f'{{"user":"{record["email"]}","timestamp":{time},"x":{x},"y":{y},"z":{z}}}\n'
                )
                accelerometer += 1
                if rng.random() < 0.5:
                    steps.write(
                        f'{{"sensorReadingTime":{time},"serialNumber":"{record["serialNumber"]}",'
                        f'"distanceFromObject":{rng.randint(0, 1000)}}}\n'
                    )
                    step_trainer += 1
    changes = consent_changes(records, consent_count)
    if changes:
        _write_records(out / "customer" / f"customer-{name}.json", changes)
    return Delivered(accelerometer, step_trainer, len(changes))


def consent_delivery(landing: Path, out: Path, *, consent_count: int = 1_000) -> Delivered:
    """Write `out/customer/customer-consents.json`: consent changes only."""
    changes = consent_changes(latest_records(landing), consent_count)
    (out / "customer").mkdir(parents=True, exist_ok=True)
    _write_records(out / "customer" / "customer-consents.json", changes)
    return Delivered(0, 0, len(changes))


def _write_records(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))

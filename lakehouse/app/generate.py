"""Deterministic sample landing data with the real sources' quirks.

- consent dates are epoch ms, and a missing consent is an absent key (about half the customers);
- some `birthDay`s are junk (years like `993`), and everyone has the same phone number;
- the fulfilment bug: a handful of serial numbers reused by many customers (switchable off);
- several accelerometer readings can share one (user, timestamp) with different x, y, z;
- step-trainer readings at the same milliseconds as their customer's accelerometer readings, and
  customers with different serial numbers reading at the same milliseconds (so a time-only join
  is visibly wrong), but never two customers sharing a serial number at the same millisecond;
- readings that start before the customer's research-consent date;
- later customer records that withdraw or grant consent;
- accelerometer files alternate the `timestamp` / `timeStamp` spellings.

Output is streamed file by file, so tens of millions of readings need little memory.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bronze.tables import SOURCES
from lakehouse.core.storage import join, list_files, read_chunks

FIRST_NAMES = ("Santosh", "Sarah", "Ben", "Jo", "Frank", "Lyn", "Danny", "Chris", "Eric", "Spencer")
LAST_NAMES = (
    "Clayton",
    "Lincoln",
    "Wu",
    "Phillips",
    "Doshi",
    "Davis",
    "Fibonnaci",
    "Jones",
    "Mayor",
)
SHARED_PHONE = "8015551212"
SHARED_SERIALS = 5  # the fulfilment bug's serial numbers; also the size of a same-time block
BASE_TIME = 1_655_000_000_000  # 2022-06-12, epoch ms
DAY = 86_400_000
READING_INTERVAL = 1_000
# Every generated file is `<source>/<source>-NNNN.json`; a new generation replaces these only.
GENERATED_NAME = "{source}-[0-9][0-9][0-9][0-9].json"
MALFORMED_LINES = (
    "this is not json",
    '{"truncated": ',
    "",
    "[1, 2, 3]",
)


@dataclass(frozen=True)
class GenerateOptions:
    customers: int = 100
    readings_per_customer: int = 20
    seed: int = 42
    files: int = 2
    serial_bug: bool = True
    malformed: int = 0  # bad lines added to each source


@dataclass(frozen=True)
class GenerateReport:
    files: int
    customers: int
    customer_records: int
    accelerometer_readings: int
    step_trainer_readings: int
    malformed_lines: int


@dataclass(frozen=True)
class _Customer:
    index: int
    record: dict[str, object]
    start: int  # first reading, epoch ms
    readings: int


def generate(landing: Path, options: GenerateOptions) -> GenerateReport:
    """Write `<landing>/{customer,accelerometer,step_trainer}/<source>-NNNN.json`.

    Files of an earlier generation (same naming) are replaced; other files are left alone.
    """
    if options.customers < 1 or options.readings_per_customer < 1 or options.files < 1:
        raise ValueError("--customers, --readings-per-customer and --files must be at least 1")
    rng = random.Random(options.seed)
    serials = [_serial(rng) for _ in range(SHARED_SERIALS)]
    folders = {name: landing / name for name in SOURCES}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(GENERATED_NAME.format(source=folder.name)):
            old.unlink()

    counts = {"customer": 0, "accelerometer": 0, "step_trainer": 0}
    updates: list[dict[str, object]] = []
    group_size = -(-options.customers // options.files)
    for group in range(options.files):
        first = group * group_size
        members = range(first, min(first + group_size, options.customers))
        spelling = "timeStamp" if group % 2 else "timestamp"
        name = f"{group + 1:04d}.json"
        with (
            open(folders["customer"] / f"customer-{name}", "w") as customer_file,
            open(folders["accelerometer"] / f"accelerometer-{name}", "w") as accel_file,
            open(folders["step_trainer"] / f"step_trainer-{name}", "w") as step_file,
        ):
            if group == 0 and options.malformed:
                for out in (customer_file, accel_file, step_file):
                    _write_malformed(out, options.malformed)
            for index in members:
                customer = _customer(rng, index, serials, options)
                customer_file.write(json.dumps(customer.record) + "\n")
                counts["customer"] += 1
                update = _consent_change(rng, customer)
                if update:
                    updates.append(update)
                accel, steps = _write_readings(rng, customer, spelling, accel_file, step_file)
                counts["accelerometer"] += accel
                counts["step_trainer"] += steps
    if updates:
        with open(folders["customer"] / f"customer-{options.files + 1:04d}.json", "w") as out:
            out.writelines(json.dumps(record) + "\n" for record in updates)
        counts["customer"] += len(updates)
    return GenerateReport(
        # A file per source and group, and one of consent changes (other files are not ours).
        files=len(folders) * options.files + (1 if updates else 0),
        customers=options.customers,
        customer_records=counts["customer"],
        accelerometer_readings=counts["accelerometer"],
        step_trainer_readings=counts["step_trainer"],
        malformed_lines=3 * options.malformed,
    )


@dataclass(frozen=True)
class Clash:
    """A file that shows a landing zone already holds, or fed, a different sample."""

    path: str
    why: str


def clashes(sample: Path, landing: str, ingested: Mapping[str, set[str]]) -> list[Clash]:
    """Where writing the `sample` folder into `landing` would mix two different samples.

    Generated names are reused by every generation, so another seed's files would replace
    these under the same names and bronze would ingest them as new deliveries beside the old.
    A clash is a generated file in the landing zone that differs from (or is not part of) the
    sample, or a sample file whose name the warehouse ingested with other content
    (`ingested`: path -> checksums in the ingested-files table). The same sample again has none.
    """
    new = {
        join(landing, path.relative_to(sample).as_posix()): _checksum(str(path))
        for path in sorted(sample.rglob("*.json"))
    }
    found = []
    for source in SOURCES:
        for stored in list_files(join(landing, source), ".json"):
            if not is_generated_name(source, stored.path.rsplit("/", 1)[-1]):
                continue
            if stored.path not in new:
                found.append(Clash(stored.path, "left there by another generation"))
            elif _checksum(stored.path) != new[stored.path]:
                found.append(Clash(stored.path, "holds another sample's content"))
    for path, checksum in new.items():
        if path in ingested and checksum not in ingested[path]:
            found.append(Clash(path, "the warehouse ingested other content under this name"))
    return found


def _checksum(path: str) -> str:
    # The ingested-files table's checksum: SHA-256 of the bytes.
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def is_generated_name(source: str, name: str) -> bool:
    """Whether `name` (a file in `<landing>/<source>/`) is named like a generated file."""
    return fnmatch.fnmatchcase(name, GENERATED_NAME.format(source=source))


def _serial(rng: random.Random) -> str:
    hexes = f"{rng.getrandbits(128):032x}"
    return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"


def _customer(
    rng: random.Random, index: int, serials: list[str], options: GenerateOptions
) -> _Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    readings = options.readings_per_customer
    # Customers of one block read at the same milliseconds; within a block serials differ.
    block_span = (readings + 10) * READING_INTERVAL
    start = BASE_TIME + (index // SHARED_SERIALS) * block_span
    registered = start - rng.randint(1, 30) * DAY
    record: dict[str, object] = {
        "customerName": f"{first} {last}",
        "email": f"{first}.{last}.{index}@test.stedi.example",
        "phone": SHARED_PHONE,
        "birthDay": _birth_day(rng),
        "serialNumber": serials[index % SHARED_SERIALS] if options.serial_bug else _serial(rng),
        "registrationDate": registered,
        "lastUpdateDate": registered + rng.randint(0, DAY),
    }
    if rng.random() < 0.5:
        # A third of consenting customers agree mid-way, after some of their readings.
        midway = rng.random() < 1 / 3
        offset = rng.randint(1, readings - 1) * READING_INTERVAL if midway and readings > 1 else 0
        record["shareWithResearchAsOfDate"] = start + offset if midway else registered
    if rng.random() < 0.3:
        record["shareWithPublicAsOfDate"] = registered
    if rng.random() < 0.3:
        record["shareWithFriendsAsOfDate"] = registered
    return _Customer(index=index, record=record, start=start, readings=readings)


def _birth_day(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"{rng.randint(100, 999)}-01-01" if rng.random() < 0.5 else "0993-06-14"
    return f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _consent_change(rng: random.Random, customer: _Customer) -> dict[str, object] | None:
    """About one customer in ten sends a newer record that withdraws or grants consent."""
    if rng.random() >= 0.1:
        return None
    update = dict(customer.record)
    update["lastUpdateDate"] = int(str(customer.record["lastUpdateDate"])) + DAY
    if "shareWithResearchAsOfDate" in update:
        del update["shareWithResearchAsOfDate"]
    else:
        update["shareWithResearchAsOfDate"] = customer.start + READING_INTERVAL * (
            customer.readings // 2
        )
    return update


def _write_readings(
    rng: random.Random, customer: _Customer, spelling: str, accel: IO[str], steps: IO[str]
) -> tuple[int, int]:
    email = customer.record["email"]
    serial = customer.record["serialNumber"]
    accel_count = step_count = 0
    for time in _reading_times(customer):
        # Sometimes the phone reports several readings in one millisecond.
        for _ in range(2 if rng.random() < 0.05 else 1):
            x, y, z = (round(rng.uniform(-1, 1), 3) for _ in range(3))
            accel.write(f'{{"user":"{email}","{spelling}":{time},"x":{x},"y":{y},"z":{z}}}\n')
            accel_count += 1
        if rng.random() < 0.5:
            distance = rng.randint(0, 1000)
            steps.write(
                f'{{"sensorReadingTime":{time},"serialNumber":"{serial}",'
                f'"distanceFromObject":{distance}}}\n'
            )
            step_count += 1
    return accel_count, step_count


def _reading_times(customer: _Customer) -> Iterator[int]:
    return (customer.start + k * READING_INTERVAL for k in range(customer.readings))


def _write_malformed(out: IO[str], count: int) -> None:
    samples = [*MALFORMED_LINES, '{"wrong": "fields"}']
    for k in range(count):
        out.write(samples[k % len(samples)] + "\n")

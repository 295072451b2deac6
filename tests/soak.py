"""A months-long schedule in miniature: a seeded calendar of deliveries, runs and maintenance,
and the oracle's view of the landing zone as it goes.

Shared by `tests/lakehouse/app/test_soak.py` (CI-sized) and `benchmarks/soak.py`
(`make soak DAYS=365`). Pure Python and generated up front from a seed, so a failing step can
be named and replayed.

Every simulated day brings a daily customer file (sign-ups and consent grants, withdrawals and
moves) and a few hourly accelerometer and step-trainer files, then one scheduled run. Some
files are late (readings from earlier days), some re-delivered (the same file again, or the
same name with a line appended). At fixed points of the calendar: a restore of two tables
(then a run), an erasure, a killed run, a Ctrl-C, and a vacuum keeping nothing; every week a
vacuum keeping a week.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from gold.transforms import MACHINE_LEARNING_COLUMNS
from silver.transforms import CUSTOMER_COLUMNS
from tests.expected import expected_tables, pseudonym

HOUR = 3_600_000
DAY = 24 * HOUR
BASE_TIME = 1_700_006_400_000  # 2023-11-15T00:00Z, epoch ms
SHARED_SERIALS = 3  # the fulfilment bug: every other customer gets one of these
KILL_POINT = "after:silver.*"  # the killed run dies right after its first silver commit
INTERRUPT_POINT = "before:gold.*"  # the Ctrl-C arrives as gold is about to commit
WEEKLY_RETAIN_HOURS = 168.0
# Where in the calendar (as a fraction of its days) each one-off event happens.
EVENTS = {
    0.3: "restore",
    0.45: "erase",
    0.55: "killed_run",
    0.65: "interrupted_run",
    0.8: "vacuum0",
}
RESTORED_TABLES = ("silver.accelerometer_trusted", "bronze.accelerometer_landing")
RESTORE_RUNS_BACK = 3

# What the oracle knows of each silver and gold table (reading_id and record_id are digests of
# these columns, so they add nothing to compare).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "silver.customer_trusted": CUSTOMER_COLUMNS,
    "silver.accelerometer_trusted": ("user", "timestamp", "x", "y", "z"),
    "silver.step_trainer_trusted": ("sensorReadingTime", "serialNumber", "distanceFromObject"),
    "gold.customer_curated": CUSTOMER_COLUMNS,
    "gold.machine_learning_curated": MACHINE_LEARNING_COLUMNS[1:],
}
Tables = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Delivery:
    source: str  # customer, accelerometer or step_trainer
    name: str
    lines: tuple[str, ...]
    append: bool = False  # the lines are added to the file already there (a changed file)


@dataclass(frozen=True)
class Step:
    day: int
    kind: str  # deliver, run, killed_run, interrupted_run, erase, vacuum, restore
    deliveries: tuple[Delivery, ...] = ()
    email: str = ""  # erase
    retain_hours: float = 0.0  # vacuum
    tables: tuple[str, ...] = ()  # restore: to their versions at the run `runs_back` runs ago
    runs_back: int = 0
    fault: str = ""  # killed_run, interrupted_run: the fault point


@dataclass
class _Customer:
    index: int
    record: dict[str, Any]  # the latest record delivered
    registered_day: int

    @property
    def email(self) -> str:
        return str(self.record["email"])


@dataclass
class _Generator:
    rng: random.Random
    customers: list[_Customer] = field(default_factory=list)
    erased: set[str] = field(default_factory=set)
    # Hourly accelerometer files that may be re-delivered with a line appended: (day, hour).
    appendable: dict[str, tuple[int, int]] = field(default_factory=dict)
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> its lines now
    serials: list[str] = field(default_factory=list)

    def day(self, day: int, sign_ups: int) -> tuple[Delivery, ...]:
        deliveries = [self._customer_file(day, sign_ups)]
        for hour in sorted(self.rng.sample(range(24), k=self.rng.randint(2, 3))):
            deliveries += self._readings(f"hour-{day:04d}-{hour:02d}.json", day, hour, range(30))
            self.appendable[f"hour-{day:04d}-{hour:02d}.json"] = (day, hour)
        if day and self.rng.random() < 0.3:
            back = self.rng.randint(1, min(4, day))
            deliveries += self._readings(
                f"late-{day:04d}.json", day - back, self.rng.randrange(24), range(30, 60)
            )
        if day and self.rng.random() < 0.35:
            deliveries += self._redelivery(day)
        for delivery in deliveries:
            path = f"{delivery.source}/{delivery.name}"
            before = self.files.get(path, ()) if delivery.append else ()
            self.files[path] = before + delivery.lines
        return tuple(deliveries)

    def pick_erased(self, day: int) -> str:
        """A consenting customer whose readings are in the warehouse by now."""
        settled = [c for c in self._present() if c.registered_day <= day - 2]
        consenting = [c for c in settled if "shareWithResearchAsOfDate" in c.record]
        email = self.rng.choice(consenting or settled).email
        self.erased.add(email)
        # From now on only files delivered after the erasure get lines appended: appending to
        # an older file would deliver the customer's lines again.
        self.appendable.clear()
        return email

    def _present(self) -> list[_Customer]:
        return [c for c in self.customers if c.email not in self.erased]

    def _customer_file(self, day: int, sign_ups: int) -> Delivery:
        start = BASE_TIME + day * DAY
        existing = [c for c in self._present() if c.registered_day < day]
        records = [self._sign_up(day, start) for _ in range(sign_ups)]
        if existing and self.rng.random() < 0.6:
            records.append(self._consent_change(self.rng.choice(existing), start))
        return Delivery("customer", f"day-{day:04d}.json", tuple(json.dumps(r) for r in records))

    def _sign_up(self, day: int, start: int) -> dict[str, Any]:
        index = len(self.customers)
        if not self.serials:
            self.serials = [_serial(self.rng) for _ in range(SHARED_SERIALS)]
        shared = index % 2 == 0
        record: dict[str, Any] = {
            "customerName": f"Customer {index}",
            "email": f"customer.{index}@soak.stedi.example",
            "phone": "8015551212",
            "birthDay": f"{self.rng.randint(1940, 2004)}-{self.rng.randint(1, 12):02d}-"
            f"{self.rng.randint(1, 28):02d}",
            "serialNumber": self.serials[index % SHARED_SERIALS] if shared else _serial(self.rng),
            "registrationDate": start + index,
            # Distinct per customer and day, so "the latest record" is never a tie.
            "lastUpdateDate": start + HOUR + index,
        }
        draw = self.rng.random()
        if draw < 0.5:
            record["shareWithResearchAsOfDate"] = record["registrationDate"]
        elif draw < 0.7:
            record["shareWithResearchAsOfDate"] = start + 12 * HOUR  # the morning stays out
        if self.rng.random() < 0.3:
            record["shareWithPublicAsOfDate"] = record["registrationDate"]
        self.customers.append(_Customer(index, record, day))
        return record

    def _consent_change(self, customer: _Customer, start: int) -> dict[str, Any]:
        """A newer record that grants, withdraws or moves research consent."""
        record = dict(customer.record)
        record["lastUpdateDate"] = start + 2 * HOUR + customer.index
        if "shareWithResearchAsOfDate" not in record:
            record["shareWithResearchAsOfDate"] = start + 12 * HOUR
        elif self.rng.random() < 0.6:
            del record["shareWithResearchAsOfDate"]
        else:
            record["shareWithResearchAsOfDate"] = start  # later: earlier readings leave
        customer.record = record
        return record

    def _readings(self, name: str, day: int, hour: int, minutes: range) -> list[Delivery]:
        present = [c for c in self._present() if c.registered_day <= day]
        active = self.rng.sample(present, k=min(3, len(present)))
        spelling = "timeStamp" if hour % 2 else "timestamp"
        accelerometer: list[str] = []
        steps: list[str] = []
        for customer in active:
            for minute in self.rng.sample(minutes, k=2):
                accelerometer += self._moment(customer, day, hour, minute, spelling, steps)
        deliveries = [Delivery("accelerometer", name, tuple(accelerometer))]
        if steps:
            deliveries.append(Delivery("step_trainer", name, tuple(steps)))
        return deliveries

    def _moment(
        self, customer: _Customer, day: int, hour: int, minute: int, spelling: str, steps: list[str]
    ) -> list[str]:
        """Readings of one customer at one millisecond, and maybe the step trainer's."""
        # The index term keeps two customers (even two sharing a serial) off the same millisecond.
        time = BASE_TIME + day * DAY + hour * HOUR + minute * 60_000 + customer.index * 10
        lines = []
        for _ in range(2 if self.rng.random() < 0.05 else 1):
            x, y, z = (round(self.rng.uniform(-1, 1), 3) for _ in range(3))
            lines.append(
                json.dumps({"user": customer.email, spelling: time, "x": x, "y": y, "z": z})
            )
        if self.rng.random() < 0.6:
            serial = customer.record["serialNumber"]
            distance = self.rng.randint(0, 1000)
            steps.append(
                json.dumps(
                    {
                        "sensorReadingTime": time,
                        "serialNumber": serial,
                        "distanceFromObject": distance,
                    }
                )
            )
        return lines

    def _redelivery(self, day: int) -> list[Delivery]:
        """An earlier file again: the same bytes, or (half the time) with a line appended."""
        if self.appendable and self.rng.random() < 0.5:
            name = self.rng.choice(sorted(self.appendable))
            file_day, hour = self.appendable[name]
            present = [c for c in self._present() if c.registered_day <= file_day]
            if present:
                steps: list[str] = []
                customer = self.rng.choice(present)
                minute = self.rng.randrange(30, 60)
                lines = self._moment(customer, file_day, hour, minute, "timestamp", steps)
                again = [Delivery("accelerometer", name, tuple(lines), append=True)]
                if steps:
                    again.append(Delivery("step_trainer", name, tuple(steps), append=True))
                return again
        path = self.rng.choice(sorted(self.files))
        source, name = path.split("/")
        return [Delivery(source, name, self.files[path])]


def _serial(rng: random.Random) -> str:
    hexes = f"{rng.getrandbits(128):032x}"
    return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"


def calendar(days: int, seed: int = 1, first_customers: int = 6) -> list[Step]:
    """`days` simulated days: each day's deliveries, then its scheduled run, plus the events."""
    if days < 20:
        raise ValueError("a soak calendar needs at least 20 days to place its events apart")
    generator = _Generator(random.Random(seed))
    events = {int(days * share): kind for share, kind in EVENTS.items()}
    steps: list[Step] = []
    for day in range(days):
        event = events.get(day, "")
        if event == "restore":
            steps.append(Step(day, "restore", tables=RESTORED_TABLES, runs_back=RESTORE_RUNS_BACK))
        if event == "erase":
            steps.append(Step(day, "erase", email=generator.pick_erased(day)))
        sign_ups = first_customers if day == 0 else 1
        steps.append(Step(day, "deliver", deliveries=generator.day(day, sign_ups)))
        if event == "killed_run":
            steps.append(Step(day, "killed_run", fault=KILL_POINT))
        elif event == "interrupted_run":
            steps.append(Step(day, "interrupted_run", fault=INTERRUPT_POINT))
        else:
            steps.append(Step(day, "run"))
        if event == "vacuum0":
            steps.append(Step(day, "vacuum", retain_hours=0.0))
        elif day % 7 == 6:
            steps.append(Step(day, "vacuum", retain_hours=WEEKLY_RETAIN_HOURS))
    return steps


class Landing:
    """The landing zone, and the oracle's copy of it: the same files minus erased customers.

    An erasure removes a customer from the warehouse, not from the landing zone; the oracle
    computes the tables from its copy, where the customer's records are gone.
    """

    def __init__(self, zone: Path, oracle: Path) -> None:
        self.zone = zone
        self.oracle = oracle

    def deliver(self, delivery: Delivery) -> None:
        for root in (self.zone, self.oracle):
            path = root / delivery.source / delivery.name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a" if delivery.append else "w") as out:
                out.writelines(line + "\n" for line in delivery.lines)

    def erase(self, email: str) -> None:
        for source, key in (("customer", "email"), ("accelerometer", "user")):
            for path in sorted((self.oracle / source).glob("*.json")):
                lines = path.read_text().splitlines()
                kept = [line for line in lines if json.loads(line).get(key) != email]
                if kept != lines:
                    path.write_text("".join(line + "\n" for line in kept))


def age_logs(warehouse: Path, days: int) -> None:
    """Make every Delta log in the warehouse `days` older, as if that time had passed.

    Two clocks are in a log: log retention counts each log file's modification time, and the
    tombstones of replaced data files count their `remove.deletionTimestamp`; checkpoints keep
    a tombstone only until it is older than `delta.deletedFileRetentionDuration` (7 days), so
    left unaged, every tombstone of a simulated year would stay in every checkpoint.
    """
    shift_ms = days * 86_400_000
    for path in warehouse.glob("*/*/_delta_log/*"):
        stat = path.stat()
        if path.name.endswith(".json"):
            _age_commit_tombstones(path, shift_ms)
        elif path.name.endswith(".checkpoint.parquet"):
            _age_checkpoint_tombstones(path, shift_ms)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - days * 86_400 * 10**9))


def _age_commit_tombstones(commit: Path, shift_ms: int) -> None:
    lines = commit.read_text().splitlines()
    aged = []
    for line in lines:
        action = json.loads(line) if '"remove"' in line else {}
        remove = action.get("remove")
        if remove and remove.get("deletionTimestamp") is not None:
            remove["deletionTimestamp"] -= shift_ms
            line = json.dumps(action, separators=(",", ":"))
        aged.append(line)
    if aged != lines:
        commit.write_text("\n".join(aged) + "\n")


def _age_checkpoint_tombstones(checkpoint: Path, shift_ms: int) -> None:
    table = pq.read_table(checkpoint)
    if "remove" not in table.column_names:
        return
    removes = table.column("remove").combine_chunks()
    if removes.null_count == len(removes):
        return
    fields = [
        pc.subtract(removes.field(i), shift_ms)
        if f.name == "deletionTimestamp"
        else removes.field(i)
        for i, f in enumerate(removes.type)
    ]
    aged = pa.StructArray.from_arrays(fields, fields=list(removes.type), mask=removes.is_null())
    index = table.column_names.index("remove")
    pq.write_table(table.set_column(index, table.field(index), aged), checkpoint)


def oracle_tables(landing: Path, salt: str) -> Tables:
    """The silver and gold tables as the oracle computes them, in `TABLE_COLUMNS` order."""
    expected = expected_tables(landing, consent_cutoff=True, salt=salt)
    customers = [
        (pseudonym(salt, email), *(record.get(c) for c in CUSTOMER_COLUMNS[1:]))
        for email, record in expected.customers.items()
    ]
    return {
        "silver.customer_trusted": _sorted(customers),
        "silver.accelerometer_trusted": _sorted(expected.accelerometer),
        "silver.step_trainer_trusted": _sorted(expected.steps),
        "gold.customer_curated": _sorted(c for c in customers if c[2] in expected.curated),
        "gold.machine_learning_curated": _sorted(expected.machine_learning.elements()),
    }


def projection(table: str) -> str:
    """The oracle's columns of `table` as SQL (dates as ISO text, as the oracle holds them)."""
    return ", ".join(
        "CAST(birthDay AS STRING) AS birthDay" if c == "birthDay" else f"`{c}`"
        for c in TABLE_COLUMNS[table]
    )


def snapshot_query() -> str:
    """One query returning every silver and gold table as (table, row as JSON) lines."""
    parts = []
    # Tables are labelled by position: a table's name inside a string literal is a trap for
    # as-of rewriting, which is not what this query is for.
    for number, (table, columns) in enumerate(TABLE_COLUMNS.items()):
        fields = ", ".join(
            f"'{c}', CAST(birthDay AS STRING)" if c == "birthDay" else f"'{c}', `{c}`"
            for c in columns
        )
        parts.append(f"SELECT {number} AS t, to_json(named_struct({fields})) AS j FROM {table}")
    return " UNION ALL ".join(parts)


def parse_snapshot(text: str) -> Tables:
    """The CSV output of `lakehouse sql <snapshot_query()> --format csv` as oracle tables."""
    tables: Tables = {table: [] for table in TABLE_COLUMNS}
    reader = csv.reader(io.StringIO(text))
    if next(reader, None) != ["t", "j"]:
        raise ValueError(f"not a snapshot: {text[:200]!r}")
    names = list(TABLE_COLUMNS)
    for number, row in reader:
        table = names[int(number)]
        values = json.loads(row)  # NULL fields are left out of the JSON
        tables[table].append(tuple(values.get(c) for c in TABLE_COLUMNS[table]))
    return {table: _sorted(rows) for table, rows in tables.items()}


def read_tables(spark: SparkSession) -> Tables:
    """The silver and gold tables now, in the oracle's shape."""
    return {
        table: _sorted(
            tuple(row) for row in spark.sql(f"SELECT {projection(table)} FROM {table}").collect()
        )
        for table in TABLE_COLUMNS
    }


def _sorted(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # NULLs sort first, so rows with NULLs in different columns still compare.
    return sorted(rows, key=lambda row: tuple((value is not None, value) for value in row))

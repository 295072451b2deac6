"""The lakehouse's rules computed again in plain Python, straight from the landing files.

Independent of the engine and of the project's transforms: tests compare the tables with this.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEPARATOR = "\u001f"


def landing_records(landing: Path, source: str) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, line number, record) for every line that is a JSON object with the needed keys."""
    required = {
        "customer": ("email", "serialNumber", "lastUpdateDate"),
        "accelerometer": ("user", "x", "y", "z"),
        "step_trainer": ("sensorReadingTime", "serialNumber", "distanceFromObject"),
    }[source]
    records = []
    for path in sorted((landing / source).glob("*.json")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or any(record.get(k) is None for k in required):
                continue
            # One person, however an export spelt the email (trimmed, lower-cased).
            for key in ("email", "user"):
                if isinstance(record.get(key), str):
                    record[key] = record[key].strip().lower()
            if source == "accelerometer":
                record["timestamp"] = record.get("timestamp", record.get("timeStamp"))
                if record["timestamp"] is None:
                    continue
            records.append((str(path), number, record))
    return records


def pseudonym(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}{SEPARATOR}{email}".encode()).hexdigest()


@dataclass
class Expected:
    customers: dict[str, dict[str, Any]]  # trusted, by email
    accelerometer: set[tuple[str, int, float, float, float]]
    curated: set[str]
    steps: set[tuple[int, str, int]]
    machine_learning: Counter[tuple[str, str, int, int, float, float, float]]
    time_only_join: Counter[tuple[str, str, int, int, float, float, float]]


def expected_tables(landing: Path, *, consent_cutoff: bool, salt: str) -> Expected:
    latest: dict[str, tuple[tuple[int, str, int], dict[str, Any]]] = {}
    for path, number, record in landing_records(landing, "customer"):
        rank = (record["lastUpdateDate"], path, number)
        if record["email"] not in latest or rank > latest[record["email"]][0]:
            latest[record["email"]] = (rank, record)
    customers = {
        email: record
        for email, (_, record) in latest.items()
        if record.get("shareWithResearchAsOfDate") is not None
    }

    def after_consent(time: int, customer: dict[str, Any]) -> bool:
        return not consent_cutoff or time >= customer["shareWithResearchAsOfDate"]

    accelerometer = {
        (r["user"], r["timestamp"], float(r["x"]), float(r["y"]), float(r["z"]))
        for _, _, r in landing_records(landing, "accelerometer")
        if r["user"] in customers and after_consent(r["timestamp"], customers[r["user"]])
    }
    curated = {reading[0] for reading in accelerometer}
    by_serial: dict[str, list[dict[str, Any]]] = {}
    for email in curated:
        by_serial.setdefault(customers[email]["serialNumber"], []).append(customers[email])
    # A step reading is attributed through its serial's owner reading at the same millisecond.
    moments = {(user, time) for user, time, *_ in accelerometer}
    steps = {
        (r["sensorReadingTime"], r["serialNumber"], r["distanceFromObject"])
        for _, _, r in landing_records(landing, "step_trainer")
        if any(
            (c["email"], r["sensorReadingTime"]) in moments
            for c in by_serial.get(r["serialNumber"], [])
        )
    }
    readings_at: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    readings_at_time: dict[int, list[tuple[str, float, float, float]]] = {}
    for user, time, x, y, z in accelerometer:
        readings_at.setdefault((user, time), []).append((x, y, z))
        readings_at_time.setdefault(time, []).append((user, x, y, z))

    machine_learning: Counter[tuple[str, str, int, int, float, float, float]] = Counter()
    time_only: Counter[tuple[str, str, int, int, float, float, float]] = Counter()
    for time, serial, distance in steps:
        for customer in by_serial[serial]:
            for x, y, z in readings_at.get((customer["email"], time), []):
                key = pseudonym(salt, customer["email"])
                machine_learning[(key, serial, time, distance, x, y, z)] += 1
        for user, x, y, z in readings_at_time.get(time, []):
            time_only[(pseudonym(salt, user), serial, time, distance, x, y, z)] += 1
    return Expected(customers, accelerometer, curated, steps, machine_learning, time_only)

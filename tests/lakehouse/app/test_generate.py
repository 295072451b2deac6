"""The sample generator: deterministic, and with the real sources' quirks."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.app.generate import GenerateOptions, generate


def records(landing: Path, source: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        json.loads(line)
        for path in sorted((landing / source).glob("*.json"))
        for line in path.read_text().splitlines()
    ]


def test_same_seed_same_files(tmp_path: Path) -> None:
    options = GenerateOptions(customers=30, readings_per_customer=5, seed=3)
    generate(tmp_path / "a", options)
    generate(tmp_path / "b", options)
    for path in sorted((tmp_path / "a").rglob("*.json")):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_quirks_of_the_real_sources_are_present(tmp_path: Path) -> None:
    report = generate(tmp_path, GenerateOptions(customers=200, readings_per_customer=10, files=2))
    customers = records(tmp_path, "customer")
    firsts = customers[: report.customers]
    consenting = [c for c in firsts if "shareWithResearchAsOfDate" in c]
    assert 0.35 < len(consenting) / len(firsts) < 0.65
    assert all(
        c.get("shareWithResearchAsOfDate", 0) is not None for c in firsts
    )  # absent, never null
    assert len({c["phone"] for c in customers}) == 1
    assert any(not c["birthDay"][:4].isdigit() or c["birthDay"][0] == "0" for c in customers)
    assert len({c["serialNumber"] for c in customers}) <= 5
    updates = customers[report.customers :]
    assert updates and all(u["email"] in {c["email"] for c in firsts} for u in updates)

    readings = records(tmp_path, "accelerometer")
    assert {"timestamp", "timeStamp"} <= {k for r in readings for k in r}
    moments = [(r["user"], r.get("timestamp", r.get("timeStamp"))) for r in readings]
    assert len(set(moments)) < len(moments)  # several readings in one millisecond
    by_email = {c["email"]: c for c in firsts}
    assert any(
        t < by_email[u].get("shareWithResearchAsOfDate", 0) for u, t in moments
    )  # readings before consent
    steps = {(s["serialNumber"], s["sensorReadingTime"]) for s in records(tmp_path, "step_trainer")}
    assert steps <= {(by_email[u]["serialNumber"], t) for u, t in moments}


def test_serial_bug_can_be_switched_off(tmp_path: Path) -> None:
    report = generate(
        tmp_path, GenerateOptions(customers=40, readings_per_customer=2, serial_bug=False)
    )
    firsts = records(tmp_path, "customer")[: report.customers]
    assert len({c["serialNumber"] for c in firsts}) == 40

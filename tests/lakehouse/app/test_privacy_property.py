"""Consent at every version: random histories of deliveries, consent changes and erasures.

Each seed draws a history: customers who share serial numbers, grant, withdraw and move their
consent, readings under any spelling of their email (case, spaces), hostile re-deliveries of
people already erased, and erasures. After every run nobody without consent is in silver or
gold, silver holds exactly the oracle's consenting customers and readings, and every erased
person is gone from every byte of the warehouse. At the end, every table as of every earlier
run passes the consent audit, or is no longer retained (an erasure ended it) and says so.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.audit import consent_violations
from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.timetravel import AsOfError, resolve_as_of
from tests.expected import expected_tables
from tests.helpers import customer, land, overrides, reading, rows, step, traces_of

pytestmark = pytest.mark.slow

PEOPLE = [f"person{n}@stedi.example" for n in range(5)]
RUNS = 9


def spelt(rng: random.Random, email: str) -> str:
    """The email as some export might spell it."""
    local, domain = email.split("@")
    return rng.choice(
        [email, email.upper(), f" {email}", f"{local.capitalize()}@{domain.upper()}  "]
    )


def deliver(rng: random.Random, config, run: int, clock: list[int]) -> None:  # type: ignore[no-untyped-def]
    """One run's landing files: some consent changes, readings and their step readings."""
    changes = []
    for email in rng.sample(PEOPLE, rng.randint(1, 3)):
        consent = rng.choice([None, clock[0] - rng.randint(0, 300), clock[0] + rng.randint(0, 300)])
        record = customer(spelt(rng, email), clock[0] + run, consent)
        record["serialNumber"] = rng.choice(["S1", "S2"])
        changes.append(record)
    land(config, "customer", f"c-{run:02d}.json", *changes)
    readings, steps = [], []
    for _ in range(rng.randint(3, 8)):
        clock[0] += rng.randint(1, 40)
        readings.append(reading(spelt(rng, rng.choice(PEOPLE)), clock[0]))
        steps.append(step(clock[0]) | {"serialNumber": rng.choice(["S1", "S2"])})
    land(config, "accelerometer", f"a-{run:02d}.json", *readings)
    land(config, "step_trainer", f"s-{run:02d}.json", *steps)


@pytest.mark.parametrize("seed", [3, 11])
def test_nobody_without_consent_at_any_run_and_erased_people_leave_no_trace(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys, seed: int
):
    rng = random.Random(seed)
    config = make_config()
    salt = config.privacy.pseudonym_salt
    warehouse, landing = Path(config.paths.warehouse), Path(config.paths.landing)
    clock = [1_000]
    erased: set[str] = set()
    runs: list[str] = []
    for run in range(RUNS):
        deliver(rng, config, run, clock)
        if run in (3, 6):  # erase someone, then keep delivering their records (hostile)
            landed = {
                r[0].strip().lower() for r in rows(spark.table("bronze.customer_landing"), "email")
            }
            person = rng.choice(sorted(landed - erased))
            erase = ["erase", "--email", spelt(rng, person), "--retain-hours", "0"]
            assert main([*erase, *overrides(config)]) == 0
            capsys.readouterr()
            erased.add(person)
        run_id, _ = run_pipeline(spark, config)
        runs.append(run_id)

        assert consent_violations(spark, config) == [], (seed, run)
        expected = expected_tables(landing, consent_cutoff=True, salt=salt)
        customers = {email for email in expected.customers if email not in erased}
        assert {r[0] for r in rows(spark.table("silver.customer_trusted"), "email")} == customers
        readings = {r for r in expected.accelerometer if r[0] not in erased}
        held = rows(spark.table("silver.accelerometer_trusted"), "user", "timestamp", "x", "y", "z")
        assert set(held) == readings and len(held) == len(readings)
        for person in erased:
            needles = [person, customer_key(salt, person), person.split("@")[0].upper()]
            assert traces_of(warehouse, needles) == [], (seed, run, person)

    retained = 0
    for run_id in runs:
        as_of = resolve_as_of(spark, config.paths.warehouse, run_id)
        try:
            assert consent_violations(spark, config, as_of) == [], (seed, run_id)
            retained += 1
        except AsOfError as error:
            assert "no longer retained" in str(error) or "did not exist yet" in str(error)
    assert retained >= RUNS - 6  # runs after the last erasure stay readable

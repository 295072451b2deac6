"""Full build, 1% incremental run and no-op run, each timed in a fresh `lakehouse run` process.

    python benchmarks/incremental.py --scale S        # 20k customers, ~2M accelerometer readings

The generator writes 100 files per source; the full build gets 99 of them plus all but a few
consent updates, and the incremental run gets the last 1% of readings and those updates.
Prints the figures and writes them to `benchmarks/results/incremental-<scale>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lakehouse.generate import GenerateOptions, generate

ROOT = Path(__file__).resolve().parents[1]
SCALES = {  # customers, readings per customer (accelerometer; step readings are about half)
    "tiny": (500, 20),
    "S": (20_000, 100),
    "M": (100_000, 100),
    "L": (500_000, 100),
}
FILES = 100
CONSENT_UPDATES_IN_INCREMENT = 25
SOURCES = ("customer", "accelerometer", "step_trainer")


def split_landing(data: Path, initial: Path, increment: Path) -> None:
    """Files 1-99 and most consent updates to `initial`; file 100 and the rest to `increment`."""
    for source in SOURCES:
        (initial / source).mkdir(parents=True)
        (increment / source).mkdir(parents=True)
        for file in sorted((data / source).glob("*.json")):
            number = int(file.stem.rsplit("-", 1)[1])
            if number <= FILES - 1:
                shutil.copyfile(file, initial / source / file.name)
            elif number == FILES:
                shutil.copyfile(file, increment / source / file.name)
    updates = (data / "customer" / f"customer-{FILES + 1:04d}.json").read_text().splitlines()
    keep = len(updates) - CONSENT_UPDATES_IN_INCREMENT
    (initial / "customer" / "updates-1.json").write_text("".join(u + "\n" for u in updates[:keep]))
    (increment / "customer" / "updates-2.json").write_text(
        "".join(u + "\n" for u in updates[keep:])
    )


def timed_run(landing: Path, warehouse: Path, log: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lakehouse",
            "run",
            f"paths.landing={landing}",
            f"paths.warehouse={warehouse}",
        ],
        cwd=ROOT,
        env={**os.environ, "RUST_LOG": "error"},
        check=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="tiny")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    args = parser.parse_args()
    customers, readings = SCALES[args.scale]
    work = args.work / args.scale
    shutil.rmtree(work, ignore_errors=True)
    data, landing, increment = work / "data", work / "landing", work / "increment"
    report = generate(
        data, GenerateOptions(customers=customers, readings_per_customer=readings, files=FILES)
    )
    split_landing(data, landing, increment)
    warehouse = work / "warehouse"

    results = {"full": timed_run(landing, warehouse, work / "full.log")}
    for source in SOURCES:
        for file in (increment / source).glob("*.json"):
            shutil.copyfile(file, landing / source / file.name)
    results["incremental_1pct"] = timed_run(landing, warehouse, work / "incremental.log")
    results["no_op"] = timed_run(landing, warehouse, work / "no_op.log")

    figures = {
        "scale": args.scale,
        "accelerometer_readings": report.accelerometer_readings,
        "step_trainer_readings": report.step_trainer_readings,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": results,
        "incremental_share_of_full": round(
            results["incremental_1pct"]["wall_s"] / results["full"]["wall_s"], 3
        ),
    }
    out = ROOT / "benchmarks" / "results" / f"incremental-{args.scale}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

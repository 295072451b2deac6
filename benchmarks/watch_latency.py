"""How soon a landed file's rows are in gold under `lakehouse run --watch`.

    python -m benchmarks.watch_latency --scale S        # tiny proves it works in a minute

Generates the scale's sample (as `benchmarks.bench` does), builds it with one `lakehouse run`,
starts a watcher (`--format json`, one summary a run), then lands `--deliveries` small
deliveries one after another, each a new accelerometer and step file of existing customers at
new times (`benchmarks.deliveries.readings_delivery`), written aside and renamed into place.
Each latency runs from the last rename to the first moment `gold.machine_learning_curated`
(read by path with `deltalake`, its log polled every 50 ms) holds a row of the delivery; the
next delivery lands once the watcher is idle again. Prints each delivery's latency and run
time, and the median; writes `benchmarks/results/watch-<scale>.json`. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from benchmarks.bench import FILES, SCALES, lakehouse_run
from benchmarks.deliveries import DELIVERY_TIME, readings_delivery
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.core.catalog import table_location

ROOT = Path(__file__).resolve().parents[1]
GOLD = "gold.machine_learning_curated"
POLL_SECONDS = 0.05
# Each delivery's readings start this far (ms) after the previous one's: never overlapping.
SPACING = 10**9
GIVE_UP_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="tiny")
    parser.add_argument("--deliveries", type=int, default=10)
    parser.add_argument(
        "--readings", type=int, default=1_000, help="accelerometer readings per delivery"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work-watch")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("overrides", nargs="*", help="configuration overrides for every run")
    args = parser.parse_args()
    report = measure(args.scale, args.deliveries, args.readings, args.work, args.overrides)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"watch-{args.scale}.json").write_text(json.dumps(report, indent=2) + "\n")


def measure(
    scale: str, deliveries: int, readings: int, work: Path, overrides: list[str]
) -> dict[str, object]:
    customers, per_customer = SCALES[scale]
    shutil.rmtree(work, ignore_errors=True)
    landing, warehouse = work / "landing", work / "warehouse"
    print(f"generating scale {scale}: {customers} customers, {per_customer} readings each")
    generate(
        landing,
        GenerateOptions(customers=customers, readings_per_customer=per_customer, files=FILES),
    )
    started = time.perf_counter()
    subprocess.run(lakehouse_run(landing, warehouse, "-q", *overrides), check=True)
    print(f"full build: {time.perf_counter() - started:.1f}s")

    log, summaries = work / "watch.log", work / "runs.jsonl"
    command = lakehouse_run(landing, warehouse, "--watch", "--format", "json", *overrides)
    with open(log, "w") as err, open(summaries, "w") as out:
        watcher = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
    latencies: list[float] = []
    try:
        wait_idle(log, watcher, runs_done=0)
        gold = DeltaTable(table_location(str(warehouse), GOLD))
        for number in range(1, deliveries + 1):
            start = DELIVERY_TIME + number * SPACING
            out_dir = work / f"delivery-{number}"
            readings_delivery(
                landing,
                out_dir,
                accelerometer_readings=readings,
                customer_count=max(1, readings // 10),
                consent_count=0,
                start=start,
                name=f"watch-{number}",
            )
            landed = land(landing, out_dir)
            latency = wait_for_rows(gold, start, landed, watcher)
            latencies.append(latency)
            wait_idle(log, watcher, runs_done=number)
            print(f"delivery {number}: {latency:.2f}s from the rename to its rows in gold")
    finally:
        watcher.send_signal(signal.SIGINT)
        code = watcher.wait(timeout=60)
    runs = [json.loads(line) for line in summaries.read_text().splitlines() if line.strip()]
    run_seconds = [float(run["seconds"]) for run in runs[1:]]
    median = statistics.median(latencies)
    print(f"median of {len(latencies)} deliveries: {median:.2f}s (watcher exited {code})")
    print("run seconds (as the summaries say): " + ", ".join(f"{s:.1f}" for s in run_seconds))
    return {
        "scale": scale,
        "deliveries": len(latencies),
        "accelerometer_readings_per_delivery": readings,
        "latency_seconds": [round(value, 3) for value in latencies],
        "median_latency_seconds": round(median, 3),
        "run_seconds": run_seconds,
        "runs": len(runs) - 1,
        "overrides": overrides,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def land(landing: Path, delivery: Path) -> float:
    """Move each file of `delivery` in under a temporary name, then rename it into place; the
    moment the last rename is done."""
    for file in sorted(delivery.glob("*/*.json")):
        temporary = landing / file.parent.name / f".{file.name}"
        shutil.copyfile(file, temporary)
        os.replace(temporary, landing / file.parent.name / file.name)
    return time.perf_counter()


def wait_for_rows(
    gold: DeltaTable, start: int, landed: float, watcher: subprocess.Popen[bytes]
) -> float:
    """Seconds from `landed` until gold holds a row read at or after `start`: the table's log
    is polled, its rows counted only when a new version appears (one commit brings them)."""
    version = gold.version()
    while time.perf_counter() - landed < GIVE_UP_SECONDS:
        if watcher.poll() is not None:
            raise SystemExit(f"the watcher exited with {watcher.returncode}")
        gold.update_incremental()
        if gold.version() != version:
            version = gold.version()
            rows = gold.to_pyarrow_dataset().count_rows(
                filter=pc.field("sensorReadingTime") >= start
            )
            if rows:
                return time.perf_counter() - landed
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"no row of the delivery in gold after {GIVE_UP_SECONDS:g}s")


def wait_idle(log: Path, watcher: subprocess.Popen[bytes], runs_done: int) -> None:
    """Until the watcher says it waits, after its first run and `runs_done` more."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while True:
        lines = log.read_text().splitlines()
        waits = sum("watching " in line for line in lines)
        if waits > runs_done and "watching " in lines[-1]:
            return
        if watcher.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the watcher is not idle (exit {watcher.poll()}):\n" + "\n".join(lines))
        time.sleep(0.1)


if __name__ == "__main__":
    main()

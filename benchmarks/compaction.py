"""Read time after many incremental runs, with and without compaction.

    python -m benchmarks.compaction --runs 50 --above-files 16

Two warehouses receive the same deliveries, one small file per source per run; one never
compacts (`maintenance.compact_above_files=0`), the other compacts by the configured rule.
Afterwards every silver and gold table is read in full (count and a sum over every column),
median of 3. Both variants run in one process and one engine, and record the process's RSS
after each run. A third, `scheduled`, runs the compacting variant the way a scheduler does:
each run its own `lakehouse run` process, with its peak RSS measured. Writes
`benchmarks/results/compaction.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import psutil
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from benchmarks.bench import lakehouse_run, measure
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.config import load_config
from lakehouse.core.delta_log import file_count
from lakehouse.core.engine import open_session

ROOT = Path(__file__).resolve().parents[1]
READ_TABLES = (
    "silver.customer_trusted",
    "silver.accelerometer_trusted",
    "silver.step_trainer_trusted",
    "gold.machine_learning_curated",
)


def read_seconds(spark: SparkSession) -> float:
    """Median time to read every silver and gold table in full."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        for name in READ_TABLES:
            frame = spark.table(name)
            frame.select(F.count("*"), *[F.sum(F.hash(c)) for c in frame.columns]).collect()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def rss_mib() -> float:
    """Resident memory of this process and its children (the engine runs in-process)."""
    process = psutil.Process()
    members = [process, *process.children(recursive=True)]
    return round(sum(member.memory_info().rss for member in members) / 2**20, 1)


def deliver(data: Path, landing: Path, number: int) -> None:
    """Copy the files of run `number` into the landing zone."""
    for file in data.glob(f"*/*-{number:04d}.json"):
        (landing / file.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, landing / file.parent.name / file.name)


def scheduled_runs(data: Path, work: Path, runs: int, above: int) -> dict[str, object]:
    """Each run in a fresh process, as a scheduler starts it: wall time and peak RSS per run."""
    landing, warehouse, logs = work / "landing", work / "warehouse", work / "logs"
    logs.mkdir(parents=True)
    measured = []
    for number in range(1, runs + 1):
        deliver(data, landing, number)
        command = lakehouse_run(landing, warehouse, f"maintenance.compact_above_files={above}")
        measured.append(measure(command, logs / f"run-{number}"))
    return {
        "runs_total_s": round(sum(m.wall_s for m in measured), 1),
        "wall_s_per_run": [m.wall_s for m in measured],
        "peak_rss_mib_per_run": [m.peak_rss_mib for m in measured],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--above-files", type=int, default=16)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "compaction")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    data = args.work / "data"
    options = GenerateOptions(customers=args.customers, readings_per_customer=50, files=args.runs)
    generate(data, options)
    results: dict[str, object] = {"runs": args.runs, "customers": args.customers}
    variants = {"never": 0, f"above_{args.above_files}": args.above_files}
    config = load_config()
    with open_session(config) as spark:
        for variant, above in variants.items():
            config = load_config(
                [
                    f"paths.landing={args.work / variant / 'landing'}",
                    f"paths.warehouse={args.work / variant / 'warehouse'}",
                    f"maintenance.compact_above_files={above}",
                ]
            )
            landing = Path(config.paths.landing)
            started = time.perf_counter()
            rss_after_run = []
            for number in range(1, args.runs + 1):
                deliver(data, landing, number)
                run_pipeline(spark, config)
                rss_after_run.append(rss_mib())
            runs_s = time.perf_counter() - started
            files = {
                name: file_count(f"{config.paths.warehouse}/{name.replace('.', '/')}")
                for name in READ_TABLES
            }
            results[variant] = {
                "runs_total_s": round(runs_s, 1),
                "files": files,
                "read_all_s": read_seconds(spark),
                "rss_mib_after_run": rss_after_run,
            }
            print(variant, json.dumps(results[variant]))
    results["scheduled"] = scheduled_runs(
        data, args.work / "scheduled", args.runs, args.above_files
    )
    print("scheduled", json.dumps(results["scheduled"]))
    out = ROOT / "benchmarks" / "results" / "compaction.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

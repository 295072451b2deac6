"""Benchmark the lakehouse against its peers at a named scale, each figure the median of fresh runs.

    python -m benchmarks.bench --scale M --repeats 3        # or: make bench SCALE=M

Scenarios, each a separate process measured for wall time, CPU time and peak memory (the summed
RSS of the whole process tree, sampled every 20 ms):
  full         lakehouse build from an empty warehouse (all layers)
  full_1gib    the same with engine.memory_limit_mb=1024 (bounded memory, spilling joins)
  incremental  lakehouse run after landing 1% new readings plus consent updates
  incremental_fixed  the same absolute delivery at every scale: 100k accelerometer and ~50k
               step readings of 1,000 existing customers, plus 25 consent changes
  consent_only 1,000 consent changes (withdrawals and grants), no readings
  no_op        lakehouse run with nothing new
  spark        classic Spark job on the JVM: JSON -> joins -> Parquet overwrite
  duckdb       DuckDB: the same joins from the same JSON to Parquet
  floor        DuckDB reading all landing JSON and writing Parquet, no joins
Writes `benchmarks/results/<scale>.{json,md,png}`; ratios measured in this invocation are the
headline. `--skip spark` leaves out a peer (e.g. on machines without Java).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import psutil

from benchmarks.deliveries import consent_delivery, readings_delivery
from lakehouse.app.generate import GenerateOptions, generate

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "benchmarks" / "peers"
SCALES = {  # customers, accelerometer readings per customer (step readings are about half)
    "tiny": (300, 20),
    "S": (20_000, 100),
    "M": (100_000, 100),
    "L": (500_000, 100),
}
SCENARIOS = (
    "full",
    "full_1gib",
    "incremental",
    "incremental_fixed",
    "consent_only",
    "no_op",
    "spark",
    "duckdb",
    "floor",
)
DELIVERIES = ("incremental", "incremental_fixed", "consent_only")
MEMORY_LIMIT = "engine.memory_limit_mb=1024"
FILES = 100  # per source; the increment is the last file (1%) plus a few consent updates
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


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float


def measure(command: list[str], log: Path) -> Measurement:
    """Run `command` to completion; its wall time, CPU time and the tree's peak RSS."""
    measured, code = measure_any(command, log)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({code}); see {log}")
    return measured


def measure_any(
    command: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> tuple[Measurement, int]:
    """`measure`, whatever the exit status (returned too); `env` adds environment variables.

    A command still running after `timeout_s` is killed with its children (exit -9).
    """
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("w") as out:
        process = psutil.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**_env(), **(env or {})}
        )
        peak, cpu = 0, {}
        while process.poll() is None:
            tree = [process, *process.children(recursive=True)]
            rss = 0
            for member in tree:
                try:
                    rss += member.memory_info().rss
                    times = member.cpu_times()
                    cpu[member.pid] = times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            peak = max(peak, rss)
            if timeout_s is not None and time.perf_counter() - started > timeout_s:
                for member in reversed(tree):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        member.kill()
            time.sleep(0.02)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Descendants that were waited for are in the rusage; others only in the samples.
    cpu_s = max(waited, sum(cpu.values()))
    measured = Measurement(round(wall, 2), round(cpu_s, 2), round(peak / 2**20, 1))
    return measured, int(process.returncode)


def median(runs: list[Measurement]) -> dict[str, float]:
    fields = asdict(runs[0]).keys()
    return {f: round(statistics.median(getattr(r, f) for r in runs), 2) for f in fields}


def lakehouse_run(landing: Path, warehouse: Path, *overrides: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lakehouse",
        "run",
        f"paths.landing={landing}",
        f"paths.warehouse={warehouse}",
        *overrides,
    ]


def bench(
    scale: str, repeats: int, skip: set[str], work: Path, settings: tuple[str, ...] = ()
) -> dict[str, object]:
    """Every scenario at `scale`; `settings` (config overrides) apply to every lakehouse run."""
    customers, readings = SCALES[scale]
    shutil.rmtree(work, ignore_errors=True)
    data, initial, increment = work / "data", work / "initial", work / "increment"
    report = generate(
        data, GenerateOptions(customers=customers, readings_per_customer=readings, files=FILES)
    )
    split_landing(data, initial, increment)
    landing, warehouse, built = work / "landing", work / "warehouse", work / "built"

    def run(*overrides: str) -> list[str]:
        return lakehouse_run(landing, warehouse, *settings, *overrides)

    logs = work / "logs"
    logs.mkdir()
    runs: dict[str, list[Measurement]] = {name: [] for name in SCENARIOS if name not in skip}

    for attempt in range(repeats):
        # Full build from empty; the same landing path each time (bronze keys files by path).
        for folder in (landing, warehouse):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(initial, landing)
        runs["full"].append(measure(run(), logs / f"full-{attempt}"))
    shutil.rmtree(built, ignore_errors=True)
    shutil.copytree(warehouse, built)
    for attempt in range(repeats if "full_1gib" in runs else 0):
        shutil.rmtree(warehouse)
        command = run(MEMORY_LIMIT)
        runs["full_1gib"].append(measure(command, logs / f"full_1gib-{attempt}"))
    deliveries = {"incremental": increment, "incremental_fixed": work / "fixed"}
    deliveries["consent_only"] = work / "consents"
    readings_delivery(initial, deliveries["incremental_fixed"])
    consent_delivery(initial, deliveries["consent_only"])
    commits: dict[str, int] = {}
    for name in (name for name in DELIVERIES if name in runs):
        for attempt in range(repeats):
            # The full build's warehouse and landing zone, then the delivery on top.
            shutil.rmtree(warehouse)
            shutil.copytree(built, warehouse)
            shutil.rmtree(landing)
            shutil.copytree(initial, landing)
            shutil.copytree(deliveries[name], landing, dirs_exist_ok=True)
            before = table_versions(warehouse)
            runs[name].append(measure(run(), logs / f"{name}-{attempt}"))
            commits[name] = new_commits(before, table_versions(warehouse))
    for attempt in range(repeats if "no_op" in runs else 0):
        log = logs / f"no_op-{attempt}"
        runs["no_op"].append(measure(run(), log))

    peers = {
        "spark": [sys.executable, str(PEERS / "classic_spark.py"), str(landing)],
        "duckdb": [sys.executable, str(PEERS / "duckdb_job.py"), "joins", str(landing)],
        "floor": [sys.executable, str(PEERS / "duckdb_job.py"), "floor", str(landing)],
    }
    for name, command in peers.items():
        if name in skip:
            continue
        for attempt in range(repeats):
            output = work / f"out-{name}"
            shutil.rmtree(output, ignore_errors=True)
            runs[name].append(measure([*command, str(output)], logs / f"{name}-{attempt}"))

    figures = {name: median(measured) for name, measured in runs.items()}
    return {
        "scale": scale,
        "repeats": repeats,
        "settings": list(settings),
        "customers": customers,
        "accelerometer_readings": report.accelerometer_readings,
        "step_trainer_readings": report.step_trainer_readings,
        "landing_mib": round(_size(initial) / 2**20 + _size(increment) / 2**20, 1),
        "machine": _machine(),
        "versions": _versions(),
        "median": figures,
        "runs": {name: [asdict(m) for m in measured] for name, measured in runs.items()},
        "commits": commits,
        "ratios": _ratios(figures),
    }


def table_versions(warehouse: Path) -> dict[str, int]:
    """Each table's newest version, from its Delta log's commit files."""
    versions = {}
    for log in warehouse.glob("*/*/_delta_log"):
        commits = [int(p.name.split(".")[0]) for p in log.glob("*.json") if p.name[0].isdigit()]
        if commits:
            versions[f"{log.parent.parent.name}.{log.parent.name}"] = max(commits)
    return versions


def new_commits(before: dict[str, int], after: dict[str, int]) -> int:
    """How many commits a run wrote, over every table."""
    return sum(version - before.get(name, -1) for name, version in after.items())


def _ratios(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    full = figures["full"]["wall_s"]
    ratios = {
        f"{name}_share_of_full": round(figures[name]["wall_s"] / full, 3)
        for name in DELIVERIES
        if name in figures
    }
    if "floor" in figures:
        ratios["full_vs_floor"] = round(full / figures["floor"]["wall_s"], 2)
    if "duckdb" in figures:
        ratios["full_vs_duckdb"] = round(full / figures["duckdb"]["wall_s"], 2)
        duckdb = figures["duckdb"]["wall_s"]
        if "incremental" in figures:
            ratios["incremental_vs_duckdb"] = round(figures["incremental"]["wall_s"] / duckdb, 3)
    if "spark" in figures:
        ratios["spark_vs_full"] = round(figures["spark"]["wall_s"] / full, 2)
    return ratios


def markdown(result: dict[str, object]) -> str:
    median_figures: dict[str, dict[str, float]] = result["median"]  # type: ignore[assignment]
    lines = [
        f"Scale {result['scale']}: {result['customers']:,} customers, "
        f"{result['accelerometer_readings']:,} accelerometer and "
        f"{result['step_trainer_readings']:,} step readings ({result['landing_mib']} MiB JSON); "
        f"median of {result['repeats']} fresh runs"
        + (f", with {' '.join(result['settings'])}." if result.get("settings") else "."),  # type: ignore[arg-type]
        "",
        "| scenario | wall s | CPU s | peak RSS MiB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, figures in median_figures.items():
        lines.append(
            f"| {name} | {figures['wall_s']} | {figures['cpu_s']} | {figures['peak_rss_mib']} |"
        )
    lines += ["", "| ratio | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in result["ratios"].items()]  # type: ignore[attr-defined]
    commits = ", ".join(f"{k} {v}" for k, v in result["commits"].items())  # type: ignore[attr-defined]
    lines += ["", f"Commits written by one run (all tables): {commits}."]
    machine = result["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())  # type: ignore[attr-defined]
    lines += ["", f"Machine: {machine}. Versions: {versions}."]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: dict[str, dict[str, float]] = result["median"]  # type: ignore[assignment]
    names = list(figures)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.barh(names, [figures[n]["wall_s"] for n in names], color="tab:blue")
    left.set_xlabel("wall seconds (median)")
    left.invert_yaxis()
    right.barh(names, [figures[n]["peak_rss_mib"] for n in names], color="tab:orange")
    right.set_xlabel("peak RSS of the process tree, MiB")
    right.invert_yaxis()
    fig.suptitle(
        f"STEDI lakehouse vs peers, scale {result['scale']} "
        f"({result['accelerometer_readings']:,} accelerometer readings)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# What a Spark Connect session sets in its process: a command started from such a process (a
# notebook, a test) would otherwise try Spark Connect where it builds a classic session.
CONNECT_VARIABLES = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")


def _env() -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k not in CONNECT_VARIABLES}
    return {**inherited, "RUST_LOG": "error", "PYTHONPATH": str(ROOT)}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def _versions() -> dict[str, str]:
    packages = ("pysail", "pyspark", "deltalake", "duckdb")
    return {name: metadata.version(name) for name in packages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    skippable = tuple(name for name in SCENARIOS if name != "full")
    parser.add_argument("--skip", nargs="*", default=[], choices=skippable)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--set",
        dest="settings",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="configuration overrides for every lakehouse run, e.g. tables.deletion_vectors=true",
    )
    args = parser.parse_args()
    work = args.work / args.scale
    result = bench(args.scale, args.repeats, set(args.skip), work, tuple(args.settings))
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / args.scale
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    plot(result, stem.with_suffix(".png"))
    print(markdown(result))


if __name__ == "__main__":
    main()

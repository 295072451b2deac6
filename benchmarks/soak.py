"""The months-long soak: a simulated calendar of scheduled runs, each a fresh process (as cron).

    python -m benchmarks.soak --days 365        # or: make soak DAYS=365

The calendar is `tests/soak.py`'s (the CI test plays six weeks of it in-process): hourly and
daily deliveries, late and re-delivered files, consent changes, a restore, an erasure, a killed
run (SIGKILL), a Ctrl-C (SIGINT), weekly vacuums and one with no retention. Runs compact small
files as they go (`maintenance.compact_above_files`, small here).

Per scheduled run it prints and records wall time, peak RSS of the process tree (as
`benchmarks/bench.py` measures), rows per table, and the Delta logs: every file in each
`_delta_log`, and the part a reader needs (the newest checkpoint and the commits after it).
Wall time and memory should follow the data's growth, not the history's length; the log a
reader needs should stay bounded by checkpoints. At the end the tables are read through
`lakehouse sql` and compared with the oracle. Writes `benchmarks/results/soak-<days>.json`.

Simulated days pass in seconds, so a Delta log retention (30 days) could never expire anything:
the harness moves the warehouse's clock instead. When the calendar moves on by N days, every
file in each `_delta_log` is made N days older: its modification time (which log retention
counts) and the `deletionTimestamp` of every tombstone in it (which vacuum and checkpoints
count: a checkpoint drops tombstones older than `delta.deletedFileRetentionDuration`, 7 days).

In a calendar both the data and the history grow with the days, so a rising figure alone does
not say which one it follows. Every `--twin-every` days the harness therefore builds a twin: a
new warehouse built in one run from the landing zone as the previous scheduled run saw it (the
same data, a history of one run), then gives the twin the same delivery as the scheduled run
and measures both runs. The scheduled run against the twin's run is the history's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from benchmarks.bench import ROOT, measure_any
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV
from tests.soak import (
    Landing,
    Step,
    age_logs,
    calendar,
    oracle_tables,
    parse_snapshot,
    snapshot_query,
)

TABLES = (
    "bronze.customer_landing",
    "bronze.accelerometer_landing",
    "bronze.step_trainer_landing",
    "silver.customer_trusted",
    "silver.accelerometer_trusted",
    "silver.step_trainer_trusted",
    "gold.customer_curated",
    "gold.machine_learning_curated",
    "ops.runs",
    "ops.run_tables",
)
COMPACT_ABOVE_FILES = 8
STEP_TIMEOUT_S = 300.0  # a step still running then has hung: it is killed and reported
SALT = "soak-benchmark-salt"
# How each fault step's process is stopped: a crash (SIGKILL) and a Ctrl-C (SIGINT).
FAULT_ACTIONS = {"killed_run": "kill", "interrupted_run": "sigint"}
CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")
COMMIT = re.compile(r"^(\d{20})\.json$")


def lakehouse(*argv: str, landing: Path, warehouse: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lakehouse",
        *argv,
        f"paths.landing={landing}",
        f"paths.warehouse={warehouse}",
        f"privacy.pseudonym_salt={SALT}",
    ]


def command_for(step: Step, versions_back: dict[str, int]) -> list[list[str]]:
    """The CLI calls that carry out `step` (a restore is one call per table)."""
    if step.kind in ("run", *FAULT_ACTIONS):
        return [["run", f"maintenance.compact_above_files={COMPACT_ABOVE_FILES}"]]
    if step.kind == "erase":
        return [["erase", "--email", step.email, "--retain-hours", "168"]]
    if step.kind == "vacuum":
        return [["vacuum", "--retain-hours", f"{step.retain_hours:g}"]]
    if step.kind == "restore":
        return [["restore", table, str(versions_back[table])] for table in step.tables]
    raise ValueError(f"unknown step {step.kind}")


def delta_log(location: Path) -> dict[str, int]:
    """Files and bytes in `_delta_log`, and the bytes a reader needs to load the newest version."""
    log = location / "_delta_log"
    entries = [(p.name, p.stat().st_size) for p in log.iterdir() if p.is_file()]
    checkpoints = [int(m[1]) for name, _ in entries if (m := CHECKPOINT.match(name))]
    newest = max(checkpoints, default=-1)
    needed = sum(
        size
        for name, size in entries
        if ((m := CHECKPOINT.match(name)) and int(m[1]) == newest)
        or ((m := COMMIT.match(name)) and int(m[1]) > newest)
        or name == "_last_checkpoint"
    )
    return {
        "files": len(entries),
        "bytes": sum(size for _, size in entries),
        "checkpoints": len(checkpoints),
        "reader_bytes": needed,
    }


def table_state(warehouse: Path) -> dict[str, dict[str, int]]:
    """Per table: version, rows (from the log's file statistics: in tables with deletion
    vectors, rows marked deleted count until `vacuum` rewrites their files) and its Delta log."""
    state = {}
    for name in TABLES:
        location = warehouse / name.replace(".", "/")
        if not (location / "_delta_log").is_dir():
            continue
        table = DeltaTable(str(location))
        actions = table.get_add_actions(flatten=True)
        rows = sum(int(n or 0) for n in actions.column("num_records").to_pylist())
        state[name] = {"version": int(table.version()), "rows": rows, **delta_log(location)}
    return state


def soak(days: int, seed: int, work: Path, twin_every: int, partial: Path) -> dict[str, Any]:
    """Play the calendar; after every step, what is known so far is written to `partial`."""
    shutil.rmtree(work, ignore_errors=True)
    landing_dir, warehouse, logs = work / "landing", work / "warehouse", work / "logs"
    logs.mkdir(parents=True)
    landing = Landing(landing_dir, work / "oracle-landing")
    seen_by_last_run = work / "landing-at-last-run"
    steps = calendar(days, seed)
    history: list[dict[str, dict[str, int]]] = []  # table state after each scheduled run
    records: list[dict[str, Any]] = []
    twins: list[dict[str, Any]] = []
    next_twin_day = twin_every if twin_every > 0 else days + 1
    clock_day = 0
    print(f"{'day':>4} {'step':<16} {'exit':>4} {'wall s':>7} {'peak MiB':>8}  rows / log")
    for number, step in enumerate(steps):
        if step.day > clock_day:
            age_logs(warehouse, days=step.day - clock_day)
            clock_day = step.day
        if step.kind == "deliver":
            for delivery in step.deliveries:
                landing.deliver(delivery)
            continue
        if step.kind == "erase":
            landing.erase(step.email)
        back = history[-1 - step.runs_back] if step.kind == "restore" else {}
        versions_back = {name: figures["version"] for name, figures in back.items()}
        env = {}
        if step.kind in FAULT_ACTIONS:
            env = {FAULT_ENV: step.fault, ACTION_ENV: FAULT_ACTIONS[step.kind]}
        twin = None
        if step.kind == "run" and step.day >= next_twin_day and seen_by_last_run.is_dir():
            twin = _build_twin(work / f"twin-{step.day}", seen_by_last_run, landing_dir, logs)
            next_twin_day += twin_every
        for call, argv in enumerate(command_for(step, versions_back)):
            command = lakehouse(*argv, landing=landing_dir, warehouse=warehouse)
            measured, code = measure_any(
                command, logs / f"{number:04d}-{call}-{step.kind}", env, STEP_TIMEOUT_S
            )
            expected_to_stop = step.kind in FAULT_ACTIONS
            if (code != 0) != expected_to_stop:
                raise RuntimeError(f"day {step.day} {step.kind}: exit {code}; see {logs}")
            state = table_state(warehouse)
            if step.kind == "run":
                history.append(state)
                shutil.rmtree(seen_by_last_run, ignore_errors=True)
                shutil.copytree(landing_dir, seen_by_last_run)
            if twin is not None:
                twins.append(_run_twin(twin, step, len(history), measured, logs))
                print(_twin_line(twins[-1]), flush=True)
            records.append(
                {
                    "day": step.day,
                    "kind": step.kind,
                    "exit": code,
                    # Killed by the harness: the step hung (a Ctrl-C'ed run that never exits).
                    "timed_out": measured.wall_s >= STEP_TIMEOUT_S,
                    **asdict(measured),
                    "tables": state,
                }
            )
            print(_line(records[-1]), flush=True)
            so_far = {"days": days, "seed": seed, "steps": records, "twins": twins}
            partial.write_text(json.dumps(so_far) + "\n")
    final = _final_check(landing, landing_dir, warehouse)
    return {"days": days, "seed": seed, "steps": records, "twins": twins, "final_check": final}


def _build_twin(
    root: Path, seen_by_last_run: Path, landing_dir: Path, logs: Path
) -> dict[str, Any]:
    """A warehouse built in one run from what the last scheduled run saw, then given the
    delivery the next scheduled run is about to take (the landing zone as it is now)."""
    shutil.rmtree(root, ignore_errors=True)
    twin_landing, twin_warehouse = root / "landing", root / "warehouse"
    shutil.copytree(seen_by_last_run, twin_landing)
    build_command = lakehouse("run", landing=twin_landing, warehouse=twin_warehouse)
    build, code = measure_any(build_command, logs / f"{root.name}-build", None, STEP_TIMEOUT_S)
    if code != 0:
        raise RuntimeError(f"{root.name} build: exit {code}; see {logs}")
    shutil.rmtree(twin_landing)
    shutil.copytree(landing_dir, twin_landing)
    return {"root": root, "landing": twin_landing, "warehouse": twin_warehouse, "build": build}


def _run_twin(
    twin: dict[str, Any], step: Step, history_runs: int, scheduled: Any, logs: Path
) -> dict[str, Any]:
    """The twin's run on the same delivery as the scheduled one; the twin is then removed."""
    argv = command_for(step, {})[0]
    command = lakehouse(*argv, landing=twin["landing"], warehouse=twin["warehouse"])
    measured, code = measure_any(command, logs / f"{twin['root'].name}-run", None, STEP_TIMEOUT_S)
    if code != 0:
        raise RuntimeError(f"{twin['root'].name} run: exit {code}; see {logs}")
    shutil.rmtree(twin["root"])
    return {
        "day": step.day,
        "scheduled_runs_before": history_runs - 1,
        "scheduled": asdict(scheduled),
        "twin_run": asdict(measured),
        "twin_build": asdict(twin["build"]),
    }


def _twin_line(twin: dict[str, Any]) -> str:
    scheduled, run, build = twin["scheduled"], twin["twin_run"], twin["twin_build"]
    return (
        f"     twin on day {twin['day']} (after {twin['scheduled_runs_before']} runs): "
        f"scheduled {scheduled['wall_s']:.2f} s {scheduled['peak_rss_mib']:.0f} MiB; "
        f"same run on a one-run history {run['wall_s']:.2f} s {run['peak_rss_mib']:.0f} MiB "
        f"(its build {build['wall_s']:.2f} s {build['peak_rss_mib']:.0f} MiB)"
    )


def _final_check(landing: Landing, landing_dir: Path, warehouse: Path) -> dict[str, Any]:
    """The silver and gold tables read through `lakehouse sql`, compared with the oracle."""
    command = lakehouse(
        "sql", snapshot_query(), "--format", "csv", landing=landing_dir, warehouse=warehouse
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUST_LOG": "error"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"equal_to_oracle": False, "error": done.stderr.strip().splitlines()[-1:]}
    actual = parse_snapshot(done.stdout)
    expected = oracle_tables(landing.oracle, SALT)
    differing = {
        t: (len(actual[t]), len(expected[t])) for t in expected if actual[t] != expected[t]
    }
    return {"equal_to_oracle": not differing, "differing_tables_rows_vs_oracle": differing}


def _line(record: dict[str, Any]) -> str:
    tables = record["tables"]
    rows = "/".join(str(tables[t]["rows"]) for t in TABLES[3:8] if t in tables)
    log_files = sum(t["files"] for t in tables.values())
    log_kib = sum(t["bytes"] for t in tables.values()) / 1024
    reader_kib = max((t["reader_bytes"] for t in tables.values()), default=0) / 1024
    return (
        f"{record['day']:>4} {record['kind']:<16} {record['exit']:>4} {record['wall_s']:>7.2f} "
        f"{record['peak_rss_mib']:>8.1f}  silver+gold rows {rows}; logs {log_files} files "
        f"{log_kib:.0f} KiB, largest reader load {reader_kib:.1f} KiB"
    )


def summary(result: dict[str, Any]) -> dict[str, Any]:
    runs = [r for r in result["steps"] if r["kind"] == "run"]
    tail = max(1, len(runs) // 10)

    def figures(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {
            "first": values[0],
            "last": values[-1],
            "max": max(values),
            "median_first_10pct": statistics.median(values[:tail]),
            "median_last_10pct": statistics.median(values[-tail:]),
        }

    def logs(record: dict[str, Any]) -> dict[str, int]:
        tables = record["tables"].values()
        return {
            "files": sum(t["files"] for t in tables),
            "bytes": sum(t["bytes"] for t in tables),
            "max_reader_bytes": max(t["reader_bytes"] for t in tables),
            "checkpoints": sum(t["checkpoints"] for t in tables),
        }

    def rows(record: dict[str, Any]) -> int:
        return sum(t["rows"] for t in record["tables"].values())

    twins = [
        {
            "day": t["day"],
            "peak_rss_mib_scheduled_vs_twin": [
                t["scheduled"]["peak_rss_mib"],
                t["twin_run"]["peak_rss_mib"],
            ],
            "wall_s_scheduled_vs_twin": [t["scheduled"]["wall_s"], t["twin_run"]["wall_s"]],
        }
        for t in result["twins"]
    ]
    return {
        "scheduled_runs": len(runs),
        "twins": twins,
        "wall_s": figures("wall_s"),
        "peak_rss_mib": figures("peak_rss_mib"),
        "rows_all_tables": {"first": rows(runs[0]), "last": rows(runs[-1])},
        "delta_logs": {"first": logs(runs[0]), "last": logs(runs[-1])},
        "steps_timed_out": [
            f"day {r['day']} {r['kind']}" for r in result["steps"] if r.get("timed_out")
        ],
        "final_check": result["final_check"],
    }


def markdown(result: dict[str, Any], window_days: int = 30) -> str:
    """The figures per `window_days` of the calendar, and the twins, as Markdown tables."""
    runs = [r for r in result["steps"] if r["kind"] == "run"]
    lines = [
        "| days | runs | wall s, median | peak RSS MiB, median / max | rows, all tables "
        "| log files | log KiB | largest reader load KiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for start in range(0, result["days"], window_days):
        window = [r for r in runs if start <= r["day"] < start + window_days]
        if not window:
            continue
        last = window[-1]["tables"].values()
        peaks = [r["peak_rss_mib"] for r in window]
        lines.append(
            f"| {start}-{start + window_days - 1} | {len(window)} "
            f"| {statistics.median(r['wall_s'] for r in window):.1f} "
            f"| {statistics.median(peaks):.0f} / {max(peaks):.0f} "
            f"| {sum(t['rows'] for t in last):,} | {sum(t['files'] for t in last):,} "
            f"| {sum(t['bytes'] for t in last) / 1024:,.0f} "
            f"| {max(t['reader_bytes'] for t in last) / 1024:.0f} |"
        )
    lines += [
        "",
        "| twin on day | scheduled run: wall s / peak MiB | same run, one-run history "
        "| its build |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for twin in result["twins"]:
        scheduled, run, build = twin["scheduled"], twin["twin_run"], twin["twin_build"]
        lines.append(
            f"| {twin['day']} | {scheduled['wall_s']:.1f} / {scheduled['peak_rss_mib']:.0f} "
            f"| {run['wall_s']:.1f} / {run['peak_rss_mib']:.0f} "
            f"| {build['wall_s']:.1f} / {build['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "soak")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--twin-every", type=int, default=0, help="days between twins (default: days / 6)"
    )
    parser.add_argument(
        "--report", type=Path, help="only print the Markdown tables of a results file"
    )
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads(args.report.read_text())), end="")
        return
    started = time.perf_counter()
    twin_every = args.twin_every or max(1, args.days // 6)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"soak-{args.days}.json"
    partial = path.with_suffix(".partial.json")
    result = soak(args.days, args.seed, args.work, twin_every, partial)
    partial.unlink()
    result["summary"] = summary(result)
    result["total_wall_s"] = round(time.perf_counter() - started, 1)
    path.write_text(json.dumps(result, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {path} ({result['total_wall_s']} s in all)")


if __name__ == "__main__":
    main()

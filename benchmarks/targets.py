"""The scheduled-run targets, judged from the benchmark results of each scale.

    python -m benchmarks.targets    # reads benchmarks/results/{S,M,L,soak-30,watch-S}.json

Prints a Markdown table: each target, its limit, the figure measured (each scale's figures come
from one invocation of `benchmarks.bench`; cross-scale ratios divide medians of two; the soak's
from `make soak DAYS=30`, the watch's from `benchmarks.watch_latency --scale S`), and whether it
holds. A result not measured is left out. Never a test: figures to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench import ROOT

Results = dict[str, dict[str, object]]


@dataclass(frozen=True)
class Target:
    name: str
    limit: float
    figure: Callable[[Results], float | None]
    unit: str = "x"


def wall(results: Results, scale: str, scenario: str) -> float | None:
    figures = results.get(scale, {}).get("median", {})
    measured = figures.get(scenario) if isinstance(figures, dict) else None
    return float(measured["wall_s"]) if measured else None


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def share(top: tuple[str, str], bottom: tuple[str, str]) -> Callable[[Results], float | None]:
    """The median wall time of one (scale, scenario) over another's."""
    return lambda results: ratio(wall(results, *top), wall(results, *bottom))


def soak_memory_growth(results: Results) -> float | None:
    """Median peak RSS of the soak's last 5 scheduled runs over its first 5."""
    steps = results.get("soak-30", {}).get("steps")
    if not isinstance(steps, list):
        return None
    peaks = [float(step["peak_rss_mib"]) for step in steps if step["kind"] == "run"]
    if len(peaks) < 10:
        return None
    return statistics.median(peaks[-5:]) / statistics.median(peaks[:5])


def watch_latency(results: Results) -> float | None:
    measured = results.get("watch-S", {}).get("median_latency_seconds")
    return float(measured) if isinstance(measured, int | float) else None


TARGETS = (
    Target(
        "incremental_fixed at M / at S",
        1.2,
        share(("M", "incremental_fixed"), ("S", "incremental_fixed")),
    ),
    Target(
        "incremental_fixed at L / at S",
        1.5,
        share(("L", "incremental_fixed"), ("S", "incremental_fixed")),
    ),
    Target(
        "consent_only at M / full build at M", 0.15, share(("M", "consent_only"), ("M", "full"))
    ),
    Target(
        "1% incremental at M / full build at M", 0.10, share(("M", "incremental"), ("M", "full"))
    ),
    Target(
        "1% incremental at M / DuckDB full recompute at M",
        0.5,
        share(("M", "incremental"), ("M", "duckdb")),
    ),
    *(
        Target(f"no-op run at {scale}", 1.0, lambda r, s=scale: wall(r, s, "no_op"), " s")
        for scale in ("S", "M", "L")
    ),
    Target("30-day soak: peak RSS, last 5 runs / first 5", 1.15, soak_memory_growth),
    Target("run --watch at S: file landed -> rows in gold, median", 5.0, watch_latency, " s"),
)


def table(results: Results) -> str:
    lines = ["| target | limit | measured | holds |", "| --- | ---: | ---: | :---: |"]
    for target in TARGETS:
        figure = target.figure(results)
        if figure is None:
            continue
        holds = "yes" if figure <= target.limit else "no"
        unit = target.unit
        lines.append(f"| {target.name} | ≤ {target.limit}{unit} | {figure:.2f}{unit} | {holds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    results = {
        scale: json.loads(path.read_text())
        for scale in ("S", "M", "L", "soak-30", "watch-S")
        if (path := args.results / f"{scale}.json").exists()
    }
    print(table(results))


if __name__ == "__main__":
    main()

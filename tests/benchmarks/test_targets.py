"""The scheduled-run targets table: each figure from the results that measure it."""

from __future__ import annotations

from benchmarks.targets import Results, soak_memory_growth, table


def scale(**walls: float) -> dict[str, object]:
    return {"median": {name: {"wall_s": wall} for name, wall in walls.items()}}


def soak(peaks: list[float]) -> dict[str, object]:
    steps = [{"kind": "run", "peak_rss_mib": peak} for peak in peaks]
    steps.insert(3, {"kind": "vacuum", "peak_rss_mib": 9_999.0})  # not a scheduled run
    return {"steps": steps}


def test_the_soak_compares_the_last_five_scheduled_runs_with_the_first_five() -> None:
    peaks = [400.0, 500.0, 510.0, 520.0, 530.0, 600.0, 560.0, 570.0, 580.0, 590.0, 700.0]
    assert soak_memory_growth({"soak-30": soak(peaks)}) == 580.0 / 510.0
    assert soak_memory_growth({"soak-30": soak(peaks[:9])}) is None, "too few runs to compare"
    assert soak_memory_growth({}) is None


def test_each_target_is_judged_and_a_result_not_measured_is_left_out() -> None:
    results: Results = {
        "S": scale(incremental_fixed=5.0, no_op=0.6),
        "M": scale(incremental_fixed=9.0, consent_only=7.0, full=50.0, no_op=1.2),
        "watch-S": {"median_latency_seconds": 4.2},
    }
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table(results).splitlines()[2:]}
    assert rows["incremental_fixed at M / at S"].endswith("| 1.80x | no |")
    assert rows["consent_only at M / full build at M"].endswith("| 0.14x | yes |")
    assert rows["no-op run at M"].endswith("| 1.20 s | no |")
    assert rows["run --watch at S: file landed -> rows in gold, median"].endswith("4.20 s | yes |")
    assert not any("at L" in name or "soak" in name for name in rows)

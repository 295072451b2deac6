"""Smoke test: the benchmark harness runs end to end at tiny scale (its figures are not checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_the_benchmark_runs_at_tiny_scale_and_writes_its_results(
    tmp_path: Path, spark: SparkSession
) -> None:
    # `spark`: started from a process with a Spark Connect session (as from a notebook), the
    # classic Spark peer must still build a classic session.
    skip = [] if shutil.which("java") else ["--skip", "spark"]  # the classic job needs a JVM
    command = [sys.executable, "-m", "benchmarks.bench", "--scale", "tiny", "--repeats", "1"]
    command += ["--work", str(tmp_path / "work"), "--results", str(tmp_path), *skip]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    result = json.loads((tmp_path / "tiny.json").read_text())
    expected = {"full", "full_1gib", "no_op", "duckdb", "floor"}
    expected |= {"incremental", "incremental_fixed", "consent_only"}
    expected |= {"spark"} - set(skip)
    assert set(result["median"]) == expected
    assert all(figures["wall_s"] > 0 for figures in result["median"].values())
    assert all(figures["peak_rss_mib"] > 0 for figures in result["median"].values())
    assert (tmp_path / "tiny.md").read_text().startswith("Scale tiny")
    # Every delivery commits to bronze and to the tables it changes.
    assert all(result["commits"][name] > 3 for name in ("incremental", "incremental_fixed"))
    assert result["commits"]["consent_only"] > 0
    assert (tmp_path / "tiny.png").stat().st_size > 0

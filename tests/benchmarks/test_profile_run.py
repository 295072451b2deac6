"""The profiler runs a real command and reports its engine requests and commits."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.app.generate import GenerateOptions, generate
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_a_profiled_run_reports_requests_by_caller_and_the_commits_it_wrote(
    tmp_path: Path,
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    generate(landing, GenerateOptions(customers=20, readings_per_customer=4, files=1))
    command = [sys.executable, "-m", "benchmarks.profile_run", "run"]
    command += [f"paths.landing={landing}", f"paths.warehouse={warehouse}"]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    requests = re.search(r"^(\d+) engine requests", ran.stderr, re.MULTILINE)
    assert requests and int(requests.group(1)) > 20, ran.stderr[-3000:]
    # Requests are attributed to this project's code, never to the libraries it calls.
    assert re.search(r"^\s+[\d.]+ s\s+\d+x  lakehouse/core/merge\.py:", ran.stderr, re.MULTILINE)
    assert ".venv" not in ran.stderr.split("engine requests", 1)[1]
    commits = re.search(r"^commits: (\d+)", ran.stderr, re.MULTILINE)
    assert commits and int(commits.group(1)) >= 9, ran.stderr[-3000:]  # every table, at least

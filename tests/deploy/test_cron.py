"""The cron line and the systemd service + timer: valid units, and commands that compose a
valid configuration for `lakehouse run`."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from lakehouse.app.pipeline import select_jobs
from lakehouse.core.config import Config, load_config
from tests.helpers import ROOT

FOLDER = ROOT / "deploy" / "orchestration" / "cron"
SERVICE, TIMER = FOLDER / "stedi-lakehouse.service", FOLDER / "stedi-lakehouse.timer"
# A cron field: *, a number, a range, a list, each with an optional step.
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def unit(path: Path) -> configparser.ConfigParser:
    # systemd keys are case-sensitive and may repeat; values are never interpolated.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def run_config(argv: list[str]) -> Config:
    """The configuration a `lakehouse run [target] overrides...` command line composes."""
    assert Path(argv[0]).name == "lakehouse" and argv[1] == "run", argv
    target = None if "=" in argv[2] else argv[2]
    select_jobs(target)  # a wrong target fails here, as the command would (exit 2)
    return load_config([item for item in argv[2:] if "=" in item])


def test_the_service_runs_a_valid_configuration_and_retries_only_busy() -> None:
    service = unit(SERVICE)["Service"]
    config = run_config(shlex.split(service["ExecStart"]))
    assert config.paths.warehouse == "/srv/stedi/warehouse"
    assert config.paths.landing == "/srv/stedi/landing"
    assert service["RestartForceExitStatus"] == "3"
    assert service.get("Restart", "no") == "no"  # a failed run (1) or bad config (2) stays failed
    assert service["KillSignal"] == "SIGTERM"


def test_the_timer_is_persistent_and_starts_the_service() -> None:
    timer = unit(TIMER)
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert timer["Timer"]["Unit"] == SERVICE.name
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_the_cron_line_is_a_valid_schedule_and_lakehouse_run() -> None:
    (line,) = [
        text
        for text in (FOLDER / "crontab").read_text().splitlines()
        if text.strip() and not text.startswith("#")
    ]
    fields, command = line.split()[:5], line.split(maxsplit=5)[5]
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        assert CRON_FIELD.match(field), field
        assert all(low <= int(n) <= high for n in re.findall(r"\d+", field.split("/")[0])), field
    assert "%" not in command  # cron would turn it into a newline
    words = shlex.split(command)
    # cd <dir> && lakehouse run ... >> log 2>&1
    assert words[0] == "cd" and words[2] == "&&"
    argv = words[3 : words.index(">>")]
    config = run_config(argv)
    service_argv = shlex.split(unit(SERVICE)["Service"]["ExecStart"])
    assert config == run_config(service_argv)  # the same run as the systemd unit's


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # verify also wants ExecStart's program to exist: a stand-in at the same place in tmp_path.
    stand_in = tmp_path / "lakehouse"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    program = shlex.split(unit(SERVICE)["Service"]["ExecStart"])[0]
    (tmp_path / SERVICE.name).write_text(SERVICE.read_text().replace(program, str(stand_in)))
    shutil.copy(TIMER, tmp_path / TIMER.name)
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == "", verified.stderr  # warnings too

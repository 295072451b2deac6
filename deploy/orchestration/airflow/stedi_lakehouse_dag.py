"""Airflow DAG: `lakehouse run bronze`, then silver, then gold, every hour, one run at a time.

It calls the `lakehouse` command (on the worker's PATH, or `LAKEHOUSE_COMMAND`), so Airflow's own
environment needs nothing of the project installed. Only exit status 3 (busy: another run holds
the warehouse) is retried: that one passes. A failed run (1), a configuration error (2), an
interrupted one (130, 143) or anything else fails the task at once, because running it again
unchanged gives the same answer and only delays the alert.

BashOperator cannot tell exit codes apart (every non-zero status raises the same
AirflowException, retried alike; `skip_on_exit_code` skips, which would let downstream layers
run on stale input), so each task is a Python callable that raises AirflowFailException
("fail, do not retry") for those. This works on Airflow 2.x and 3.x.

Settings, from Airflow's environment (or a triggered run's conf, `{"overrides": [...]}`):
  LAKEHOUSE_OVERRIDES              Hydra overrides for every command, shell-quoted, e.g.
                                   "paths.landing=/data/landing paths.warehouse=/data/wh"
  LAKEHOUSE_COMMAND                the command (default: `lakehouse`)
  LAKEHOUSE_RETRY_DELAY_SECONDS    wait before trying a busy layer again (default: 300)
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

try:  # Airflow 3: the task SDK
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
    )
    from airflow.operators.python import PythonOperator  # type: ignore[no-redef]

log = logging.getLogger(__name__)

DAG_ID = "stedi_lakehouse"
LAYERS = ("bronze", "silver", "gold")
# `lakehouse.app.cli`: 3 = another run holds the warehouse beyond run.lock_timeout_seconds.
EXIT_BUSY = 3
# The command waits run.lock_timeout_seconds (60 s by default) itself before giving up; three
# tries five minutes apart then cover a run that overlaps by a quarter of an hour.
RETRIES = 3
RETRY_DELAY = timedelta(seconds=float(os.environ.get("LAKEHOUSE_RETRY_DELAY_SECONDS", "300")))
# After SIGTERM the command stops its queries, records the run as interrupted and releases the
# warehouse within seconds (README, "Stopping a run"); this is the grace period for that.
STOP_GRACE_SECONDS = 30


def lakehouse_command(target: str, overrides: Sequence[str]) -> list[str]:
    """The command a task runs: `lakehouse run <layer> <overrides...>`."""
    executable = os.environ.get("LAKEHOUSE_COMMAND", "lakehouse")
    return [*shlex.split(executable), "run", target, *overrides]


def run_lakehouse(target: str, params: Mapping[str, Any] | None = None) -> None:
    """Run one layer; raise what tells Airflow to retry (busy) or to fail outright."""
    given = (params or {}).get("overrides")
    overrides = list(given) if given else shlex.split(os.environ.get("LAKEHOUSE_OVERRIDES", ""))
    command = lakehouse_command(target, overrides)
    log.info("running %s", shlex.join(command))
    # Its output goes to the task log line by line, as it comes (plain lines: not a terminal).
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            log.info("%s", line.rstrip("\n"))
        status = child.wait()
    except BaseException:
        # The task was stopped (timeout, marked failed, worker shutdown): let the command
        # release the warehouse cleanly instead of leaving it to the lock's expiry.
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    if status == EXIT_BUSY:
        raise AirflowException(f"lakehouse run {target}: busy, another run holds the warehouse")
    if status != 0:
        raise AirflowFailException(
            f"lakehouse run {target} exited {status} (1 failed, 2 configuration error, "
            "130/143 interrupted): not retried, see the log above"
        )


with DAG(
    dag_id=DAG_ID,
    description="STEDI lakehouse: bronze -> silver -> gold through the lakehouse command",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,  # a run takes every new file: missed hours need no runs of their own
    max_active_runs=1,  # the warehouse takes one writer; a second run would only wait
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY},
    params={"overrides": []},
    tags=["stedi", "lakehouse"],
) as dag:
    tasks = [
        PythonOperator(task_id=f"run_{layer}", python_callable=run_lakehouse, op_args=[layer])
        for layer in LAYERS
    ]
    for upstream, downstream in pairwise(tasks):
        upstream >> downstream

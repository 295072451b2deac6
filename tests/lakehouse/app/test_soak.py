"""Six weeks of scheduled runs, checked against the oracle after every run and as of past runs.

The calendar (`tests/soak.py`) delivers hourly readings and daily customer files (late ones,
re-delivered ones, consent grants and withdrawals), restores two tables, erases a customer,
kills one run and interrupts another, compacts as it goes and vacuums weekly, then once with
no retention. Every silver and gold table passes several Delta checkpoints on the way.

After each run the tables must equal the oracle. Afterwards, through the command line as a
user would: `sql --as-of <run>` reads the oracle's state at that run, `diff` between two runs
is the oracle's difference, `audit consent --as-of` passes at every run whose files are all
still there, and a run whose files were vacuumed is refused in one clear line.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.app.cli import main
from lakehouse.app.erasure import erase_customer
from lakehouse.app.maintenance import restore, vacuum, with_vacuum
from lakehouse.app.pipeline import operation, run_pipeline
from lakehouse.core.catalog import table_location
from lakehouse.core.config import Config, load_config
from lakehouse.core.delta_log import DeltalakeLog
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, InjectedFault
from lakehouse.core.history import named_table
from lakehouse.core.identity import email_digest
from tests.helpers import ALL_TABLES, overrides, versions
from tests.soak import (
    TABLE_COLUMNS,
    Landing,
    Step,
    Tables,
    calendar,
    oracle_tables,
    parse_snapshot,
    read_tables,
    snapshot_query,
)

pytestmark = pytest.mark.slow

DAYS = 42  # 42 scheduled runs, one killed and one interrupted
SEED = 2026
# Small, so that compaction happens several times in six weeks of tiny increments.
COMPACT_ABOVE_FILES = 6
CHECKPOINT_INTERVAL = 10  # Sail writes a Delta checkpoint every 10 commits


@dataclass(frozen=True)
class Checkpoint:
    """A finished run or operation: its id, the oracle's tables then and every table's version."""

    run_id: str
    step: int
    oracle: Tables
    versions: dict[str, int | None]


@dataclass
class Season:
    config: Config
    checkpoints: list[Checkpoint]
    runs: int  # scheduled runs started, killed and interrupted ones included


def differences(actual: Tables, expected: Tables) -> dict[str, str]:
    """Per differing table: how many rows are missing and extra, with a few of each."""
    found = {}
    for table in TABLE_COLUMNS:
        missing = Counter(expected[table]) - Counter(actual[table])
        extra = Counter(actual[table]) - Counter(expected[table])
        if missing or extra:
            found[table] = (
                f"{sum(missing.values())} missing (e.g. {list(missing)[:2]}), "
                f"{sum(extra.values())} extra (e.g. {list(extra)[:2]})"
            )
    return found


@pytest.fixture(scope="module")
def season(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Season]:
    """Play the calendar, comparing the tables with the oracle after every run."""
    root = tmp_path_factory.mktemp("soak")
    config = load_config(
        [
            f"paths.landing={root / 'landing'}",
            f"paths.warehouse={root / 'warehouse'}",
            f"maintenance.compact_above_files={COMPACT_ABOVE_FILES}",
        ]
    )
    landing = Landing(root / "landing", root / "oracle-landing")
    salt = config.privacy.pseudonym_salt
    checkpoints: list[Checkpoint] = []
    runs = 0
    stopped = False  # the last run was killed or interrupted

    def check(where: str, oracle: Tables) -> None:
        wrong = differences(read_tables(spark), oracle)
        assert not wrong, f"{where}: the tables differ from the oracle: {wrong}"

    with pytest.MonkeyPatch.context() as env:
        for number, step in enumerate(calendar(DAYS, SEED)):
            where = f"step {number} (day {step.day}, {step.kind})"
            if step.kind == "deliver":
                for delivery in step.deliveries:
                    landing.deliver(delivery)
                continue
            if step.kind in ("killed_run", "interrupted_run"):
                runs += 1
                stopped_by_fault(spark, config, step, env, where)
                # Until the next run completes its work, the tables are what it left.
                stopped = True
                continue
            if step.kind == "run":
                runs += 1
                run_id, _ = run_pipeline(spark, config)
                stopped = False
            elif step.kind == "erase":
                run_id = erase(spark, config, step.email)
                landing.erase(step.email)
            elif step.kind == "vacuum":
                target = f"retain {step.retain_hours:g}h"
                with operation(spark, config, "vacuum", target) as (ctx, results):
                    # As `lakehouse vacuum` does: a table rewritten first (deletion vectors)
                    # has a new version, which `--as-of` this run must read.
                    results.extend(
                        with_vacuum([], vacuum(ctx, sorted(ctx.ensured), step.retain_hours))
                    )
                run_id = ctx.run_id
            elif step.kind == "restore":
                earlier = checkpoints[-1 - step.runs_back]
                run_id = restore_tables(spark, config, step, earlier)
                for table in step.tables:
                    if table in TABLE_COLUMNS:
                        held = read_tables(spark)[table]
                        assert held == earlier.oracle[table], f"{where}: {table} not restored"
                # The next scheduled run must bring the restored tables forward.
                continue
            else:
                raise AssertionError(f"{where}: unknown step")
            if stopped:
                continue
            oracle = oracle_tables(landing.oracle, salt)
            check(where, oracle)
            checkpoints.append(Checkpoint(run_id, number, oracle, versions(config)))
    yield Season(config, checkpoints, runs)


def stopped_by_fault(
    spark: SparkSession, config: Config, step: Step, env: pytest.MonkeyPatch, where: str
) -> None:
    """A run killed (a simulated crash) or interrupted (SIGINT, as Ctrl-C sends) mid-way."""
    env.setenv(FAULT_ENV, step.fault)
    env.setenv(ACTION_ENV, "raise" if step.kind == "killed_run" else "interrupt")
    expected: type[BaseException] = (
        InjectedFault if step.kind == "killed_run" else KeyboardInterrupt
    )
    try:
        run_pipeline(spark, config)
    except expected:
        return
    finally:
        env.delenv(FAULT_ENV)
        env.delenv(ACTION_ENV)
    raise AssertionError(f"{where}: the run was not stopped at {step.fault}")


def erase(spark: SparkSession, config: Config, email: str) -> str:
    with operation(spark, config, "erase", email_digest(email)) as (ctx, results):
        results.extend(erase_customer(ctx, email).results)
    for table, column in (
        ("bronze.customer_landing", "email"),
        ("bronze.accelerometer_landing", "user"),
    ):
        assert spark.table(table).where(F.col(column) == email).count() == 0, table
    return ctx.run_id


def restore_tables(spark: SparkSession, config: Config, step: Step, earlier: Checkpoint) -> str:
    run_id = ""
    for table in step.tables:
        version = earlier.versions[table]
        assert version is not None
        with operation(spark, config, "restore", f"{table}@{version}") as (ctx, done):
            done.append(restore(ctx, named_table(table), version))
        run_id = ctx.run_id
    return run_id


def files_present(config: Config, table: str, version: int | None) -> bool:
    """Whether every data file `version` of `table` reads is still on disk (not vacuumed)."""
    if version is None:
        return True
    location = table_location(config.paths.warehouse, table)
    uris = DeltaTable(location, version=version).file_uris()
    return all(Path(uri.removeprefix("file://")).exists() for uri in uris)


def retained(season: Season) -> list[Checkpoint]:
    return [
        point
        for point in season.checkpoints
        if all(files_present(season.config, t, v) for t, v in point.versions.items())
    ]


def ops_table(spark: SparkSession, season: Season, name: str) -> DataFrame:
    """The season warehouse's `ops.<name>` table, read from its folder."""
    return spark.read.format("delta").load(f"{season.config.paths.warehouse}/ops/{name}")


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[..., tuple[int, str, str]]:
    """Call the command line in-process: exit status, stdout, and stderr with the log lines."""

    def call(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        caplog.clear()
        code = main(list(argv))
        out, err = capsys.readouterr()
        # The CLI logs to stderr; under pytest its records land in caplog instead.
        logged = "".join(f"{r.levelname} {r.getMessage()}\n" for r in caplog.records)
        return code, out, err + logged

    return call


def test_every_scheduled_run_ended_with_the_oracle_tables(
    spark: SparkSession, season: Season
) -> None:
    # The fixture compared the tables after every run; here: the calendar did what it claims.
    assert season.runs >= 40
    warehouse = Path(season.config.paths.warehouse)
    runs = ops_table(spark, season, "runs")
    statuses = Counter(row[0] for row in runs.select("status").collect())
    assert statuses["interrupted"] == 2, statuses  # the killed run and the Ctrl-C
    assert statuses["failed"] == 0, statuses
    for table in TABLE_COLUMNS:
        log = warehouse / table.replace(".", "/") / "_delta_log"
        checkpoints = list(log.glob("*.checkpoint.parquet"))
        assert len(checkpoints) >= 2, f"{table} passed {len(checkpoints)} Delta checkpoints"
    log_ops = DeltalakeLog()
    compacted = [
        table
        for table in ALL_TABLES
        if any(
            commit.get("operation") == "OPTIMIZE"
            for commit in log_ops.history(str(warehouse / table.replace(".", "/")))
        )
    ]
    assert len(compacted) >= 3, f"compaction ran on {compacted} only"
    assert len(retained(season)) < len(season.checkpoints), "the vacuum deleted nothing"


def test_as_of_a_past_run_reads_the_oracle_state_of_that_run(
    season: Season, cli: Callable[..., tuple[int, str, str]]
) -> None:
    points = retained(season)
    rng = random.Random(SEED)
    chosen = sorted({points[0].step, points[-1].step, *(p.step for p in rng.sample(points, 3))})
    wrong = []
    for point in (p for p in points if p.step in chosen):
        code, out, err = cli(
            "sql",
            snapshot_query(),
            "--as-of",
            point.run_id,
            "--format",
            "csv",
            *overrides(season.config),
        )
        if code != 0:
            wrong.append(f"as of {point.run_id} (step {point.step}): exit {code}: {_last(err)}")
        elif diff := differences(parse_snapshot(out), point.oracle):
            wrong.append(f"as of {point.run_id} (step {point.step}): {diff}")
    assert not wrong, "\n".join(wrong)


def test_diff_between_two_runs_is_the_oracle_difference(
    season: Season, cli: Callable[..., tuple[int, str, str]]
) -> None:
    points = retained(season)
    rng = random.Random(SEED + 1)
    before, after = sorted(rng.sample(points, 2), key=lambda p: p.step)
    wrong = []
    for table in TABLE_COLUMNS:
        code, out, err = cli(
            "diff",
            table,
            before.run_id,
            after.run_id,
            "--max-rows",
            "100000",
            *overrides(season.config),
        )
        if code != 0:
            wrong.append(f"{table}: exit {code}: {_last(err)}")
            continue
        added, removed = parse_diff(out, table)
        expected_added = Counter(after.oracle[table]) - Counter(before.oracle[table])
        expected_removed = Counter(before.oracle[table]) - Counter(after.oracle[table])
        if (added, removed) != (expected_added, expected_removed):
            wrong.append(
                f"{table}: added {sum(added.values())}, removed {sum(removed.values())}; the "
                f"oracle: {sum(expected_added.values())}, {sum(expected_removed.values())}"
            )
    assert not wrong, f"diff step {before.step} -> step {after.step}:\n" + "\n".join(wrong)


def test_consent_audit_passes_as_of_every_retained_run(
    season: Season, cli: Callable[..., tuple[int, str, str]]
) -> None:
    wrong = []
    for point in retained(season):
        code, out, err = cli("audit", "consent", "--as-of", point.run_id, *overrides(season.config))
        if code != 0:
            wrong.append(
                f"as of {point.run_id} (step {point.step}): exit {code}: {_last(out + err)}"
            )
    assert not wrong, "\n".join(wrong)


def test_rules_pass_as_of_past_runs_and_every_run_recorded_its_rule_results(
    spark: SparkSession, season: Season, cli: Callable[..., tuple[int, str, str]]
) -> None:
    points = retained(season)
    rng = random.Random(SEED + 2)
    wrong = []
    chosen = {p.step: p for p in (points[0], points[-1], *rng.sample(points, 2))}
    for point in sorted(chosen.values(), key=lambda p: p.step):
        code, out, err = cli(
            "test", "--as-of", point.run_id, "--format", "json", *overrides(season.config)
        )
        report = json.loads(out) if code in (0, 1) else {}
        if code != 0 or not report["passed"] or len(report["rules"]) < 10:
            wrong.append(f"as of {point.run_id} (step {point.step}): exit {code}: {_last(err)}")
    assert not wrong, "\n".join(wrong)
    # Every commit a scheduled run made to a table with rules was judged, its results kept
    # (restores and erasures are not runs of the rules).
    runs = (
        ops_table(spark, season, "runs")
        .where(F.col("command") == "run")
        .select("run_id")
        .distinct()
    )
    committed = (
        ops_table(spark, season, "run_tables")
        .join(runs, "run_id", "left_semi")
        .where(F.col("table_name").startswith("silver.") | F.col("table_name").startswith("gold."))
        .where(~F.col("version_after").eqNullSafe(F.col("version_before")))
    )
    unjudged = committed.join(
        ops_table(spark, season, "rule_results"), ["run_id", "table_name"], "left_anti"
    )
    assert committed.count() > 50, "too few commits to prove anything"
    assert unjudged.count() == 0, unjudged.select("run_id", "table_name").take(3)


def test_a_vacuumed_run_is_refused_in_one_clear_line(
    season: Season, cli: Callable[..., tuple[int, str, str]]
) -> None:
    kept = {p.step for p in retained(season)}
    gone = [p for p in season.checkpoints if p.step not in kept]
    for point in (gone[0], gone[-1]):
        # A table whose files at that run were deleted (count(*) alone would be answered from
        # the log's statistics, so every column is read).
        table = next(t for t, v in point.versions.items() if not files_present(season.config, t, v))
        code, out, err = cli(
            "sql",
            f"SELECT * FROM {table}",
            "--as-of",
            point.run_id,
            "--format",
            "csv",
            *overrides(season.config),
        )
        lines = err.strip().splitlines()
        where = f"{table} as of {point.run_id} (step {point.step})"
        assert code == 1 and out == "", f"{where}: exit {code}, printed {out[:80]!r}; {_last(err)}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{where}: {_last(err)}"
        assert "vacuum" in lines[0], f"{where}: {lines[0]}"


def parse_diff(out: str, table: str) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The rows `lakehouse diff` lists as added and removed, in the oracle's columns."""
    sides: dict[str, Counter[tuple[Any, ...]]] = {}
    lines = out.splitlines()
    index = 0
    while index < len(lines):
        label, rest = lines[index].split(":", 1)
        count = int(rest.split()[0])
        rows: list[dict[str, str]] = []
        if count:
            header, rule = lines[index + 1], lines[index + 2]
            spans = _spans(rule)
            names = [header[a:b].strip() for a, b in spans]
            for line in lines[index + 3 : index + 3 + count]:
                rows.append({n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)})
            index += 3 + count
        else:
            index += 1
        sides[label] = Counter(_typed(table, row) for row in rows)
    return sides["added"], sides["removed"]


def _spans(rule: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    return spans


def _typed(table: str, row: dict[str, str]) -> tuple[Any, ...]:
    # format_table prints str(value): numbers come back through int/float, NULL as "".
    floats, ints = {"x", "y", "z"}, {"timestamp", "sensorReadingTime", "distanceFromObject"}
    ints |= {"registrationDate", "lastUpdateDate"} | {
        c for c in TABLE_COLUMNS[table] if c.startswith("shareWith")
    }

    def value(column: str) -> Any:
        text = row[column]
        if text == "":
            return None
        return float(text) if column in floats else int(text) if column in ints else text

    return tuple(value(c) for c in TABLE_COLUMNS[table])


def _last(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else "(no output)"

"""`lakehouse` command line: run, generate, land, sql, tables, runs, history, diff, restore,
vacuum, repair, erase, audit, quarantine, ddl, config.

Hydra overrides (`key=value`) follow the subcommand, for example
`lakehouse run paths.landing=/data/landing paths.warehouse=/data/wh`.

Exit status: 0 done (also when a reader such as `head` closes the output early); 1 failed: a
run failed (also when storage or Glue stops answering after it began writing, or it lost the
S3 lease to another run), the audit found violations, or what was asked for is not there (a
table, a version, a run, data to audit) or the engine rejects the query; 2 configuration or
usage error, reported before anything is written (a bad key, an unreachable bucket, a statement
that writes without --allow-writes or reads a path without --allow-paths, a sample that would
mix with another, a warehouse on a read-only file system); 3 busy: another run
holds the warehouse; 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM (the run is
recorded as interrupted and the warehouse released; see `lakehouse.core.interrupt`). Mistakes are
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple
from datetime import UTC, datetime
from itertools import takewhile
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from bronze.tables import INGESTED_FILES, QUARANTINE, SOURCES
from lakehouse.app.errors import MaintenanceError, NothingToErase, RulesFailed, RunFailed
from lakehouse.app.generate import GenerateOptions, clashes, generate, is_generated_name
from lakehouse.app.plan import check_rekey, full_refresh_tables, quality_rules, select_tables
from lakehouse.app.tables import pseudonymised_tables
from lakehouse.app.up_to_date import log_notes, up_to_date
from lakehouse.core.aws import prepared_environment
from lakehouse.core.catalog import attach_warehouse, table_location
from lakehouse.core.config import (
    CatalogKind,
    Config,
    ConfigError,
    EngineName,
    load_config,
    storage_error,
    storage_errors,
)
from lakehouse.core.context import TableResult
from lakehouse.core.ddl import DIALECTS, ddl_script
from lakehouse.core.delta_log import (
    VACUUM_RETAIN_HOURS,
    commits_metrics,
    is_delta_table,
    table_log,
    table_version,
)
from lakehouse.core.errors import (
    NO_ENGINE,
    AsOfError,
    EngineError,
    QueryError,
    UnknownTable,
    UsageError,
    query_errors,
)
from lakehouse.core.fence import LeaseLost
from lakehouse.core.glue import catalog_table
from lakehouse.core.interrupt import interruptible
from lakehouse.core.json_text import json_text
from lakehouse.core.lock import WarehouseBusy
from lakehouse.core.printable import PrintableFormatter, printable
from lakehouse.core.progress import (
    SUMMARY_COLUMNS,
    Progress,
    format_table,
    summary_rows,
)
from lakehouse.core.secrets import AUTO, secret_location, with_pseudonym_salt
from lakehouse.core.sql_reach import check_reach
from lakehouse.core.statements import Statements, parse_statements
from lakehouse.core.storage import VersionsKept, folder_exists, remove_file, upload_tree
from lakehouse.core.storage_faults import storage_fault

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.core.rules import RuleOutcome

# Commands import the engine and what uses it when they run, not here: `run` with nothing to
# do never starts the engine, and `generate`, `land` or `config` need none.

log = logging.getLogger("lakehouse")

Handler = Callable[[argparse.Namespace, Config], int]

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_BUSY = 3
# Interrupted: 128 + the signal number (130 SIGINT, 143 SIGTERM), returned by `interruptible`.


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; Ctrl-C and SIGTERM stop it cleanly with status 130 or 143."""
    return interruptible(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    # Overrides may come before the command (`lakehouse paths.warehouse=x tables`) and follow
    # options (`sql QUERY --format csv key=value`).
    given = list(sys.argv[1:] if argv is None else argv)
    leading = list(takewhile(lambda item: _is_override(item) and item[:1] != "-", given))
    args, extra = parser.parse_known_args(given[len(leading) :] + leading)
    unknown = [item for item in extra if not _is_override(item)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.overrides = [*_overrides_given_early(args), *args.overrides, *extra]
    # Log messages may name landing files: shown escaped, one record a line.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    if args.verbose:
        for ours in ("lakehouse", "bronze", "silver", "gold"):
            logging.getLogger(ours).setLevel(logging.DEBUG)
    for chatty in ("botocore", "boto3", "urllib3", "watchfiles"):
        # Their INFO lines ("Found credentials in ...", "1 change detected") say nothing a
        # user acts on.
        logging.getLogger(chatty).setLevel(logging.WARNING)
    config: Config | None = None
    try:
        config = load_config(args.overrides)
        return int(args.command(args, config))
    except ConfigError as error:
        print(f"configuration error: {printable(error)}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as error:
        print(f"error: {printable(error)}", file=sys.stderr)
        return EXIT_CONFIG
    except (
        AsOfError,
        MaintenanceError,
        NothingToErase,
        UnknownTable,
        QueryError,
        VersionsKept,  # removed files the bucket still holds: not done, one line says why
    ) as error:
        print(f"error: {printable(error)}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader stopped early (`| head`): its right, not a failure of this command.
        _discard_stdout()
        return 0
    except EngineError as error:
        print(f"error: {printable(error)}", file=sys.stderr)
        return EXIT_FAILED
    except WarehouseBusy as error:
        print(f"busy: {printable(error)}", file=sys.stderr)
        return EXIT_BUSY
    except (RunFailed, LeaseLost) as error:
        # After the run began writing: a failure, never exit 2 (which promises nothing was
        # written); orchestrators retry it, and the next run completes the work.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except storage_errors() as error:
        # A bucket, region, endpoint or key that does not answer, met by a command that had
        # no reason to check it first (a read): the same line as `run` gives before it starts.
        print(
            f"configuration error: {printable(storage_error('cannot reach storage', error))}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except ModuleNotFoundError as error:
        if error.name != "pyspark":
            raise
        print(NO_ENGINE, file=sys.stderr)
        return EXIT_CONFIG
    except Exception as error:
        fault = storage_fault(error, config.paths.warehouse if config else "the warehouse")
        if fault is None:
            log.exception("failed: %s", error)
            return EXIT_FAILED
        print(f"error: {fault.message}", file=sys.stderr)
        return EXIT_CONFIG if fault.nothing_written else EXIT_FAILED


def installed_version() -> str:
    """The installed distribution's version (a checkout run without installing: "unknown")."""
    try:
        return importlib.metadata.version("stedi-lakehouse")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default beside it (when it has one worth saying); examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default in (None, False, argparse.SUPPRESS, []) or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)"


# One example per subcommand, shown at the end of its --help.
EXAMPLES = {
    "run": "lakehouse run                              # every layer, incrementally\n"
    "  lakehouse run +gold.machine_learning_curated  # that table and all it is built from\n"
    "  lakehouse run --test --full-refresh silver    # rebuild silver, judge every rule\n"
    "  lakehouse run --watch --format json           # a run per delivery, one JSON line each",
    "generate": "lakehouse generate --customers 50 --files 2 --malformed 1",
    "land": "lakehouse land ./export s3://my-bucket/landing",
    "sql": "lakehouse sql 'SELECT count(*) FROM gold.machine_learning_curated' --as-of 3",
    "tables": "lakehouse tables --format json",
    "runs": "lakehouse runs --limit 5",
    "history": "lakehouse history silver.customer_trusted",
    "diff": "lakehouse diff gold.machine_learning_curated 2 3",
    "restore": "lakehouse restore silver.customer_trusted 4",
    "vacuum": "lakehouse vacuum --retain-hours 168",
    "repair": "lakehouse repair && lakehouse run",
    "erase": "lakehouse erase --email someone@example.com --dry-run",
    "audit": "lakehouse audit consent --as-of 20261201T060000Z-1a2b3c4d",
    "quarantine": "lakehouse quarantine replay",
    "ddl": "lakehouse ddl --dialect athena > tables.sql",
    "config": "lakehouse config storage=s3 storage.bucket=my-bucket",
    "status": "lakehouse status quality.max_source_age_hours=24   # exit 1 when a source is stale",
    "test": "lakehouse test +gold.machine_learning_curated --as-of 3",
}
TARGET_HELP = (
    "all, bronze, silver, gold or a table such as silver.customer_trusted; +NAME adds what "
    "it is built from, NAME+ what is built from it"
)


def _parser() -> argparse.ArgumentParser:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="lakehouse", description=summary)
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    # Every subcommand takes them, after its name: `lakehouse run --quiet`.
    common = argparse.ArgumentParser(add_help=False)
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="only results and errors: no progress or log"
    )
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="debug log lines of the lakehouse"
    )

    def command(
        name: str, handler: Handler, help: str, *, formats: tuple[str, ...] = ("table", "json")
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            parents=[common],
            formatter_class=HelpFormatter,
            epilog=f"example:\n  {EXAMPLES[name]}",
        )
        sub.set_defaults(command=handler)
        if formats:
            sub.add_argument(
                "--format",
                choices=formats,
                default=formats[0],
                help="json: the same rows with stable keys (README, Scripting)",
            )
        return sub

    run = command("run", cmd_run, "run all layers, one layer or tables (incrementally)")
    run.add_argument("target", nargs="?", default=None, help=TARGET_HELP + " (default: all)")
    run.add_argument(
        "--full-refresh",
        nargs="?",
        const="all",
        metavar="TARGET",
        help="rebuild these silver and gold tables from bronze whatever their watermarks "
        "(no TARGET: all of them)",
    )
    run.add_argument(
        "--test",
        action="store_true",
        help="also judge the table rules (unique, row count) before each commit; tables "
        "downstream of a failed rule are skipped",
    )
    run.add_argument(
        "--rekey",
        action="store_true",
        help="draw a new pseudonym salt (privacy.pseudonym_salt=auto) and rebuild every silver "
        "and gold table with it in this run: the recovery from a lost _secrets/pseudonym_salt, "
        "or a rotation (every customer_key changes)",
    )
    run.add_argument(
        "--watch",
        action="store_true",
        help="run now, then again each time files land (once they have settled; S3 is polled), "
        "one run at a time, until Ctrl-C or SIGTERM",
    )

    gen = command("generate", cmd_generate, "write sample landing files", formats=())
    gen.add_argument("--customers", type=int, default=GenerateOptions.customers)
    gen.add_argument(
        "--readings-per-customer", type=int, default=GenerateOptions.readings_per_customer
    )
    gen.add_argument("--seed", type=int, default=GenerateOptions.seed)
    gen.add_argument("--files", type=int, default=GenerateOptions.files, help="files per source")
    gen.add_argument(
        "--no-serial-bug",
        dest="serial_bug",
        action="store_false",
        help="give every customer their own serial number",
    )
    gen.add_argument("--malformed", type=int, default=0, help="bad lines to add to each source")
    gen.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a different sample already in the landing zone (or ingested from it); "
        "bronze then holds both",
    )

    land = command(
        "land",
        cmd_land,
        "upload landing files (customer/, accelerometer/, ...) into the landing zone",
        formats=(),
    )
    land.add_argument("source", type=Path, help="local folder holding customer/, ... folders")
    land.add_argument(
        "target", nargs="?", help="landing zone URI or folder (default: paths.landing)"
    )

    sql = command(
        "sql", cmd_sql, "run a SQL query against the catalog", formats=("table", "csv", "json")
    )
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=int, default=100, help="rows shown in table format")
    sql.add_argument(
        "--allow-writes",
        action="store_true",
        help="run a statement that writes (INSERT, DELETE, MERGE, DROP, ...) under the "
        "warehouse lock, recorded in the run log",
    )
    sql.add_argument(
        "--as-of",
        metavar="VERSION|TIMESTAMP|RUN_ID",
        help="read every table as it was at a version, a time or the end of a run",
    )
    sql.add_argument(
        "--allow-paths",
        action="store_true",
        help="let the statement read files by path (csv.`/data/x.csv`, LOCATION '...'); "
        "never the warehouse's _secrets folder",
    )

    command("tables", cmd_tables, "list the tables with row counts")

    command(
        "status",
        cmd_status,
        "per source: files, files to read, newest file, last ingestion; per table: version, "
        "rows, last commit and run (exit 1: a source older than quality.max_source_age_hours)",
    )

    test = command(
        "test",
        cmd_test,
        "judge every data-quality rule on the tables (exit 1 naming the failing rules)",
    )
    test.add_argument("target", nargs="?", default=None, help=TARGET_HELP + " (default: all)")
    test.add_argument("--as-of", metavar="VERSION|TIMESTAMP|RUN_ID")

    runs = command("runs", cmd_runs, "list the runs in the run log, newest first")
    runs.add_argument("--limit", type=int, default=50)

    history = command("history", cmd_history, "every version of a table and its run")
    history.add_argument("table", help="for example silver.customer_trusted")

    diff = command("diff", cmd_diff, "rows added and removed between two versions", formats=())
    diff.add_argument("table", help="for example gold.machine_learning_curated")
    diff.add_argument("before", metavar="FROM", help="version, timestamp or run id")
    diff.add_argument("after", metavar="TO", help="version, timestamp or run id")
    diff.add_argument("--max-rows", type=int, default=20, help="rows shown of each side")

    restore = command("restore", cmd_restore, "roll a table back to an earlier version", formats=())
    restore.add_argument("table")
    restore.add_argument("version", type=int)

    vacuum = command(
        "vacuum", cmd_vacuum, "delete data files old versions no longer need", formats=()
    )
    vacuum.add_argument(
        "--retain-hours",
        type=whole_hours,
        default=VACUUM_RETAIN_HOURS,
        help="keep files newer versions replaced for this many whole hours",
    )

    command(
        "repair",
        cmd_repair,
        "remove rows that repeat a table's key (left by two runs writing at once)",
        formats=(),
    )

    erase = command("erase", cmd_erase, "remove a customer's rows from every table", formats=())
    erase.add_argument("--email", required=True, help="matched trimmed and lower-cased")
    erase.add_argument(
        "--retain-hours",
        type=whole_hours,
        default=VACUUM_RETAIN_HOURS,
        help="vacuum retention after the erasure (0 deletes the old files and log at once)",
    )
    erase.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted, per table"
    )

    audit = command("audit", cmd_audit, "check every silver and gold row's consent")
    audit.add_argument("check", choices=("consent",))
    audit.add_argument("--as-of", metavar="VERSION|TIMESTAMP|RUN_ID")

    quarantine = command(
        "quarantine",
        cmd_quarantine,
        "the quarantined lines by source, file and reason; `replay` moves those that "
        "parse now into bronze",
    )
    quarantine.add_argument("action", nargs="?", default="summary", metavar="summary|replay")

    ddl = command("ddl", cmd_ddl, "print CREATE statements for every table", formats=())
    ddl.add_argument("--dialect", choices=DIALECTS, default="athena")

    command("config", cmd_config, "print the resolved configuration", formats=())
    for sub in commands.choices.values():
        sub.add_argument(
            "overrides", nargs="*", metavar="key=value", help="Hydra overrides of conf/"
        )
    return parser


# Optional positionals that an override given in their place fills (`lakehouse run key=value`).
OPTIONAL_POSITIONALS = {"target": None, "action": "summary"}


def _overrides_given_early(args: argparse.Namespace) -> list[str]:
    """Overrides argparse took for an optional positional; the positional gets its default."""
    early = []
    for name, default in OPTIONAL_POSITIONALS.items():
        value = getattr(args, name, None)
        if isinstance(value, str) and _is_override(value):
            early.append(value)
            setattr(args, name, default)
    return early


@contextmanager
def opened_warehouse(config: Config) -> Iterator[tuple[SparkSession, list[str]]]:
    """A session on the configured engine with the warehouse's tables attached, and their names."""
    from lakehouse.core.engine import open_session

    with open_session(config) as spark:
        yield spark, attach_warehouse(spark, config.paths.warehouse)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    tables = select_tables(args.target)  # a wrong target stops here, before anything starts
    full_refresh_tables(args.full_refresh)  # so does a wrong --full-refresh
    check_rekey(args.target, args.full_refresh, rekey=args.rekey)
    if args.watch:
        # Imported here: the watcher needs the engine, a run with nothing to do does not.
        from lakehouse.app.watch import check_options, watch

        ingests = any(table.startswith("bronze.") for table in tables)
        check_options(args.target, ingests, full_refresh=bool(args.full_refresh), rekey=args.rekey)
    started = time.perf_counter()
    log.info("engine=%s, warehouse %s", config.engine.name, config.paths.warehouse)
    if args.watch:
        # Each run is timed from its own start: the engine started once, before the first.
        watch(config, lambda spark: _run(args, config, spark, tables, time.perf_counter()))
    if may_skip_engine(args, config):
        with prepared_environment(config):  # the store's settings, as the engine would have them
            unchanged = up_to_date(config)
        if unchanged is not None:
            log_notes(unchanged)
            seconds = time.perf_counter() - started
            _report_run(args, None, "succeeded", unchanged, [], seconds, tables)
            return 0
    from lakehouse.core.engine import open_session

    with open_session(config) as spark:
        return _run(args, config, spark, tables, started)


def _run(
    args: argparse.Namespace,
    config: Config,
    spark: SparkSession,
    tables: Sequence[str],
    started: float,
) -> int:
    """One run, its summary printed; its exit status (a failure other than rules raises)."""
    from lakehouse.app.pipeline import run_pipeline

    outcomes: list[RuleOutcome] = []
    progress = Progress(len(tables), quiet=args.quiet or args.format == "json")
    try:
        run_id, results = run_pipeline(
            spark,
            config,
            args.target,
            progress,
            full_refresh=args.full_refresh,
            test=args.test,
            rule_outcomes=outcomes,
            rekey=args.rekey,
        )
    except RulesFailed as failed:
        seconds = time.perf_counter() - started
        _report_run(args, failed.run_id, "failed", failed.results, outcomes, seconds, tables)
        print(f"error: rules stopped {printable(failed)}", file=sys.stderr)
        return EXIT_FAILED
    seconds = time.perf_counter() - started
    _report_run(args, run_id, "succeeded", results, outcomes, seconds, tables)
    if args.rekey and args.format != "json":
        print(
            f"re-keyed: a new pseudonym salt in {secret_location(config)}; every silver and "
            "gold table was rebuilt with it (keep a backup of that file)"
        )
    return 0


def may_skip_engine(args: argparse.Namespace, config: Config) -> bool:
    """Whether this run may be told "up to date" without the engine (`up_to_date`): an
    incremental run of every table whose engine keeps its catalog in the process. A run that
    rebuilds, re-keys or tests has work whatever the logs say; one that publishes to Glue, or
    an engine whose catalog outlives the process (a cluster's metastore), has its catalog
    brought up to date by every run, which only the engine can do."""
    return (
        args.target in (None, "all")
        and args.full_refresh is None
        and not args.rekey
        and not args.test
        and config.catalog.kind != CatalogKind.glue
        and config.engine.name == EngineName.sail
    )


def _report_run(
    args: argparse.Namespace,
    run_id: str | None,
    status: str,
    results: list[TableResult],
    outcomes: list[RuleOutcome],
    seconds: float,
    tables: Sequence[str],
) -> None:
    """The run's summary; `run_id` None: nothing was new, found without a run (none recorded)."""
    notes = [note for result in results for note in result.notes]
    ingests = any(table.startswith("bronze.") for table in tables)
    if not ingests:
        # Without bronze nothing reads the landing zone: "nothing new to ingest" would be
        # untrue while a file waits there.
        notes.append(
            f"{args.target} does not include bronze: the landing zone was not read "
            "(`lakehouse run` or `lakehouse run bronze` ingests what waits there)"
        )
    rules = [_rule_row(o) for o in outcomes if not o.passed or args.test]
    if args.format == "json":
        rows = _records(SUMMARY_COLUMNS, summary_rows(results))
        report = {
            "run_id": run_id,
            "status": status,
            "seconds": round(seconds, 1),
            "up_to_date": status == "succeeded" and up_to_date_results(results),
            "tables": rows,
            "rules": _records(RULE_COLUMNS, rules),
            "notes": notes,
        }
        print(json_text(report))
        return
    if status == "succeeded" and up_to_date_results(results):
        what = "ingest or rebuild" if ingests else "rebuild"
        done = (
            f"run {run_id}, {seconds:.1f}s"
            if run_id
            else f"checked in {seconds:.1f}s, no run recorded"
        )
        print(f"up to date: nothing new to {what} ({done})")
    else:
        print(format_table(SUMMARY_COLUMNS, summary_rows(results)))
    if rules:
        print("rules:")
        print(format_table(RULE_COLUMNS, rules))
    if notes:
        print("notes:")
        print("\n".join(f"  {printable(note)}" for note in notes))
    if status == "succeeded" and not up_to_date_results(results):
        print(f"run {run_id} finished in {seconds:.1f}s")


RULE_COLUMNS = ("table", "rule", "requires", "action", "checked", "failing", "outcome")


def _rule_row(outcome: RuleOutcome) -> tuple[object, ...]:
    rule = outcome.rule
    requires = rule.describe() + (f" ({outcome.detail})" if outcome.detail else "")
    return (
        outcome.table,
        rule.name,
        requires,
        str(rule.action),
        outcome.rows_checked,
        outcome.rows_failing,
        outcome.outcome,
    )


def up_to_date_results(results: list[TableResult]) -> bool:
    """Nothing was read, written or quarantined: no table moved."""
    return all(
        not (r.read or r.inserted or r.updated or r.deleted or r.quarantined)
        and r.version == r.version_before
        for r in results
    )


def cmd_test(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.quality import check_tables, failed
    from lakehouse.core.timetravel import resolve_as_of

    rules = quality_rules(config)
    chosen = set(select_tables(args.target)) if args.target else set(rules)
    with opened_warehouse(config) as (spark, tables), query_errors():
        present = [name for name in tables if name in chosen and name in rules]
        if not present:
            raise UnknownTable(
                f"nothing to test: {config.paths.warehouse} has no table with rules"
                + (f" among {args.target}" if args.target else "")
                + "; run `lakehouse run` first"
            )
        as_of = resolve_as_of(spark, config.paths.warehouse, args.as_of) if args.as_of else None
        outcomes = check_tables(spark, config.paths.warehouse, rules, present, as_of)
    failing = failed(outcomes)
    label = as_of.label if as_of else "now"
    rows = [_rule_row(o) for o in outcomes]
    if args.format == "json":
        report = {
            "as_of": label,
            "passed": not failing,
            "rules": _records(RULE_COLUMNS, rows),
        }
        print(json_text(report))
    else:
        print(format_table(RULE_COLUMNS, rows))
        verdict = "FAILED: " + ", ".join(f"{o.table}.{o.rule.name}" for o in failing)
        print(f"rules ({label}): {verdict if failing else 'every rule passed'}")
    return EXIT_FAILED if failing else 0


SOURCE_COLUMNS = (
    "source",
    "files",
    "to_read",
    "newest_file",
    "newest_landed_at",
    "last_ingested_at",
    "age_hours",
    "stale",
)
TABLE_STATUS_COLUMNS = ("table", "version", "rows", "last_commit_at", "last_run", "age_hours")


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.status import source_status, table_status

    now = datetime.now(UTC)
    with opened_warehouse(config) as (spark, names), reaching_storage(config, "cannot list"):
        sources = source_status(spark, config, now)
        tables = table_status(spark, config.paths.warehouse, names, now)
    source_rows = [_rounded(astuple(s)) for s in sources]
    table_rows = [_rounded(astuple(t)) for t in tables]
    stale = [s.source for s in sources if s.stale]
    limit = config.quality.max_source_age_hours
    if args.format == "json":
        report = {
            "checked_at": now,
            "max_source_age_hours": limit or None,
            "stale_sources": stale,
            "sources": _records(SOURCE_COLUMNS, source_rows),
            "tables": _records(TABLE_STATUS_COLUMNS, table_rows),
        }
        print(json_text(report))
    else:
        print(format_table(SOURCE_COLUMNS, source_rows))
        print()
        print(format_table(TABLE_STATUS_COLUMNS, table_rows) if table_rows else "no tables yet")
        if stale:
            print(f"stale: {', '.join(stale)} (newest file older than {limit:g}h, or none)")
        elif limit:
            print(f"every source has a file newer than {limit:g}h")
    return EXIT_FAILED if stale else 0


def _rounded(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(round(v, 1) if isinstance(v, float) else v for v in row)


def _records(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[dict[str, object]]:
    """Rows as JSON objects keyed by the listing's column names (the documented keys)."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _print_json(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(json_text(_records(columns, rows)))


def cmd_generate(args: argparse.Namespace, config: Config) -> int:
    options = GenerateOptions(
        customers=args.customers,
        readings_per_customer=args.readings_per_customer,
        seed=args.seed,
        files=args.files,
        serial_bug=args.serial_bug,
        malformed=args.malformed,
    )
    landing = config.paths.landing
    with TemporaryDirectory(prefix="stedi-sample-") as scratch:
        # Written aside first, then landed the way real files arrive, so it can be compared with
        # what the landing zone holds and the warehouse ingested before anything is replaced.
        try:
            report = generate(Path(scratch), options)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        ingested = _ingested_files(config)
        with reaching_storage(config, f"cannot write to {landing}"):
            found = clashes(Path(scratch), landing, ingested)
            if found and not args.replace:
                raise UsageError(
                    f"{found[0].path} {found[0].why} ({len(found)} such files): {landing} "
                    "already holds or fed another sample, and this one would mix with it in "
                    "bronze. Generate into a new paths.landing (with a new paths.warehouse), "
                    "or add --replace to overwrite it anyway"
                )
            landed = upload_tree(Path(scratch), landing)
            for clash in found:
                if clash.path not in landed.uploaded:
                    remove_file(clash.path)  # another generation's file this one lacks
    changes = report.files - len(SOURCES) * options.files
    print(
        f"wrote {report.files} files to {landing} ({options.files} per source"
        + (f" and {changes} of consent changes" if changes else "")
        + f"; {len(landed.skipped)} of them already there with the same content): "
        f"{report.customer_records} customer records ({report.customers} customers), "
        f"{report.accelerometer_readings} accelerometer and "
        f"{report.step_trainer_readings} step-trainer readings, "
        f"{report.malformed_lines} malformed lines"
    )
    return 0


def _ingested_files(config: Config) -> dict[str, set[str]]:
    """Path -> checksums of the generated-name files the warehouse's ingested-files table holds."""
    from lakehouse.core.engine import open_session

    location = INGESTED_FILES.location(config.paths.warehouse)
    warehouse = config.paths.warehouse
    with reaching_storage(config, f"cannot read {warehouse}"):
        # boto3 first: it names a missing bucket, where deltalake only says "Generic S3 error".
        if not folder_exists(warehouse) or not is_delta_table(location):
            return {}
    ingested: dict[str, set[str]] = {}
    with open_session(config) as spark:
        rows = spark.read.format("delta").load(location).select("source", "file", "checksum")
        for source, path, checksum in rows.collect():
            if is_generated_name(source, str(path).rsplit("/", 1)[-1]):
                ingested.setdefault(path, set()).add(checksum)
    return ingested


def cmd_land(args: argparse.Namespace, config: Config) -> int:
    if not args.source.is_dir():
        raise ConfigError(f"{args.source} is not a folder: give the folder holding customer/, ...")
    target = args.target or config.paths.landing
    with reaching_storage(config, f"cannot write to {target}"):
        landed = upload_tree(args.source, target)
    print(
        f"landed {len(landed.uploaded)} files in {target} "
        f"({len(landed.skipped)} already there with the same content were skipped)"
    )
    return 0


@contextmanager
def reaching_storage(config: Config, what: str) -> Iterator[None]:
    """The store's settings in the environment (boto3 reads them there); a bucket, region,
    endpoint or credential that does not answer is a configuration error about `what`."""
    with prepared_environment(config):
        try:
            yield
        except storage_errors() as error:
            raise storage_error(what, error) from error


def cmd_sql(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.core.describe import describe_rows, described_query
    from lakehouse.core.engine import open_session
    from lakehouse.core.timetravel import resolve_as_of, rewrite_query

    statements = parse_statements(args.query)
    _check_runnable(statements, args)
    warehouse = config.paths.warehouse
    writes = not statements.read_only
    check_reach(args.query, warehouse, allow_paths=args.allow_paths, writes=writes)
    if writes:
        with open_session(config) as spark, query_errors():
            return _run_writes(spark, config, statements, args)
    with opened_warehouse(config) as (spark, tables), query_errors():
        describing = described_query(args.query)
        query = describing or args.query
        if args.as_of:
            as_of = resolve_as_of(spark, warehouse, args.as_of)
            query = rewrite_query(query, warehouse, tables, as_of)
            # What runs is the rewritten text: judge that too, not only what was typed.
            check_reach(query, warehouse, allow_paths=args.allow_paths, writes=False)
        result = spark.sql(query)
        if describing:
            result = describe_rows(spark, result)
        if args.format == "csv":
            _write_csv(result)
            return 0
        if args.format == "json":
            _write_json_lines(result)
            return 0
        columns = result.columns
        rows = [tuple(row) for row in result.limit(args.max_rows + 1).collect()]
    _print_rows(columns, rows, args.max_rows)
    return 0


def _check_runnable(statements: Statements, args: argparse.Namespace) -> None:
    """Refuse, before the engine starts, what `sql` must not run as given."""
    if statements.count == 0:
        raise UsageError("no SQL statement given")
    if statements.count > 1:
        raise UsageError(
            f"{statements.count} statements given ({'; '.join(statements.kinds)}): the engine "
            "runs one at a time, so give each its own `lakehouse sql`"
        )
    if statements.read_only:
        return
    if statements.parse_error and not args.allow_writes:
        raise UsageError(
            f"cannot tell whether this statement only reads (the SQL parser says: "
            f"{statements.parse_error}): fix it, or add --allow-writes to run it as a write "
            "under the warehouse lock, recorded in the run log"
        )
    if not args.allow_writes:
        named = f" {', '.join(statements.tables)}" if statements.tables else ""
        raise UsageError(
            f"{statements.kinds[0]}{named} writes, and `lakehouse sql` only reads unless given "
            "--allow-writes (which runs it under the warehouse lock, recorded in the run log)"
        )
    if args.as_of:
        raise UsageError("--as-of reads the past; a statement that writes cannot use it")


def _run_writes(
    spark: SparkSession, config: Config, statements: Statements, args: argparse.Namespace
) -> int:
    """Run a writing statement as an operation: locked, and in the run log by kind and digest."""
    from lakehouse.app.pipeline import operation

    with operation(spark, config, "sql", statements.summary) as (ctx, results):
        named = [name for name in statements.tables if name in ctx.ensured]
        before = {name: table_version(_location(config, name)) for name in named}
        result = spark.sql(args.query)
        columns = result.columns
        rows = [tuple(row) for row in result.limit(args.max_rows + 1).collect()] if columns else []
        results.extend(_changes(config, statements.kinds[0], before))
    if columns:
        _print_rows(columns, rows, args.max_rows)
    changed = ", ".join(f"{r.table} {r.version_before} -> {r.version}" for r in results)
    print(
        f"{statements.kinds[0]} recorded as run {ctx.run_id} "
        f"({'versions: ' + changed if changed else 'no warehouse table changed'})"
    )
    return 0


def _changes(config: Config, kind: str, before: dict[str, int | None]) -> list[TableResult]:
    """What a statement did to each table it names that moved, from its commits' metrics."""
    done = []
    for name, version in before.items():
        location = _location(config, name)
        after = table_version(location)
        if after != version:
            metrics = commits_metrics(location, -1 if version is None else version)
            done.append(_statement_result(name, kind, version, after, metrics))
    return done


def _statement_result(
    name: str, kind: str, before: int | None, after: int | None, metrics: dict[str, Any]
) -> TableResult:
    def total(*keys: str) -> int:
        return int(sum(metrics.get(key, 0) for key in keys))

    # Only an INSERT's written rows are all new; a DELETE or UPDATE also rewrites kept rows.
    written = total("numOutputRows") if kind.startswith("INSERT") else 0
    return TableResult(
        name,
        read=total("numSourceRows"),
        inserted=total("numTargetRowsInserted") + written,
        updated=total("numTargetRowsUpdated", "numUpdatedRows"),
        deleted=total("numTargetRowsDeleted", "numDeletedRows"),
        quarantined=0,
        version=after,
        version_before=before,
    )


def _write_csv(result: DataFrame) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(tuple(row) for row in result.toLocalIterator())


def _write_json_lines(result: DataFrame) -> None:
    """Every row, one JSON object per line (streamed like csv: any size fits)."""
    for row in result.toLocalIterator():
        print(json_text(row.asDict(recursive=True)))


def _print_rows(columns: list[str], rows: list[tuple[object, ...]], max_rows: int) -> None:
    print(format_table(columns, rows[:max_rows]))
    if len(rows) > max_rows:
        print(f"(first {max_rows} rows shown; --max-rows shows more, --format csv all)")


def cmd_tables(args: argparse.Namespace, config: Config) -> int:
    with opened_warehouse(config) as (spark, names):
        rows = [
            (
                name,
                spark.table(name).count(),
                table_version(_location(config, name)),
                _location(config, name),
            )
            for name in names
        ]
    columns = ("table", "rows", "version", "location")
    if args.format == "json":
        _print_json(columns, rows)
    elif not rows:
        print(f"no tables in {config.paths.warehouse}: run `lakehouse run` first")
    else:
        print(format_table(columns, rows))
    return 0


def cmd_runs(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.core.history import run_listing

    with opened_warehouse(config) as (spark, _):
        columns, rows = run_listing(spark, config.paths.warehouse, args.limit)
    if args.format == "json":
        _print_json(columns, rows)
    else:
        print(format_table(columns, rows) if rows else "no runs recorded yet")
    return 0


def cmd_history(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.core.history import table_history

    with opened_warehouse(config) as (spark, _):
        log = table_log(spark, config.engine.name)
        columns, rows = table_history(spark, log, config.paths.warehouse, args.table)
    if args.format == "json":
        _print_json(columns, rows)
    else:
        print(format_table(columns, rows))
    return 0


def cmd_diff(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.core.timetravel import diff_versions, resolve_as_of

    with opened_warehouse(config) as (spark, tables), query_errors():
        if args.table not in tables:
            raise UnknownTable(f"no table {args.table}: `lakehouse tables` lists them")
        before = resolve_as_of(spark, config.paths.warehouse, args.before)
        after = resolve_as_of(spark, config.paths.warehouse, args.after)
        diff = diff_versions(spark, config.paths.warehouse, args.table, before, after)
        for label, rows in (("added", diff.added), ("removed", diff.removed)):
            count = rows.count()
            print(f"{label}: {count} rows ({before.label} -> {after.label})")
            if count:
                shown = [tuple(row) for row in rows.limit(args.max_rows).collect()]
                print(format_table(rows.columns, shown))
    return 0


def cmd_restore(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.maintenance import restore
    from lakehouse.app.pipeline import operation
    from lakehouse.core.engine import open_session
    from lakehouse.core.history import named_table

    with open_session(config) as spark:
        with operation(spark, config, "restore", f"{args.table}@{args.version}") as (ctx, done):
            done.append(restore(ctx, named_table(args.table), args.version))
        print(
            f"{args.table} restored to version {args.version} as version {done[0].version} "
            f"(run {ctx.run_id}); the next `lakehouse run` rebuilds what depends on it"
        )
    return 0


def cmd_vacuum(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.maintenance import vacuum, with_vacuum
    from lakehouse.app.pipeline import operation
    from lakehouse.core.erasures import unfinished_erasures

    target = f"retain {args.retain_hours:g}h"
    with opened_warehouse(config) as (spark, tables):
        if not tables:
            print(f"nothing to vacuum: no tables in {config.paths.warehouse}")
            return 0
        with operation(spark, config, "vacuum", target) as (ctx, results):
            done = vacuum(ctx, sorted(ctx.ensured), args.retain_hours)
            results.extend(with_vacuum([], done))
            unfinished = unfinished_erasures(ctx)
    rows = [(v.table, "?" if v.files_deleted is None else v.files_deleted) for v in done]
    print(format_table(("table", "files deleted"), rows))
    print(
        f"time travel now reaches back {args.retain_hours:g} hours: versions older than that "
        "may no longer be readable (their data files are gone)"
    )
    for request in unfinished:
        print(
            f"error: {request.describe()} is unfinished: run `lakehouse erase --email "
            "<their address>` again to finish it (the address is not stored)",
            file=sys.stderr,
        )
    return EXIT_FAILED if unfinished else 0


def cmd_repair(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.pipeline import operation
    from lakehouse.app.repair import repair_duplicates

    with opened_warehouse(config) as (spark, tables):
        if not tables:
            print(f"nothing to repair: no tables in {config.paths.warehouse}")
            return 0
        with operation(spark, config, "repair", "duplicate keys") as (ctx, results):
            results.extend(repair_duplicates(ctx))
    if not results:
        print("nothing to repair: no table holds two rows with one key")
        return 0
    print(format_table(("table", "rows removed"), [(r.table, r.deleted) for r in results]))
    print("run `lakehouse run` next: it rebuilds the repaired silver and gold tables from bronze")
    return 0


def cmd_erase(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.erasure import erase, erasure_plan
    from lakehouse.app.pipeline import operation
    from lakehouse.core.engine import open_session
    from lakehouse.core.identity import canonical_email, email_digest

    if canonical_email(args.email) is None:
        raise UsageError(
            "--email is not an email address once normalised (invisible characters removed, "
            "NFKC, trimmed): it names nobody, and nothing was erased"
        )
    digest = email_digest(args.email)
    if args.dry_run:
        with opened_warehouse(config) as (spark, tables):
            keyed = pseudonymised_tables()
            salt = with_pseudonym_salt(config, create=False, keyed=keyed).privacy.pseudonym_salt
            plan = erasure_plan(spark, salt, args.email, set(tables))
            counts = [(p.table.qualified_name, p.rows.count()) for p in plan]
        print(format_table(("table", "rows to delete"), counts))
        print(f"dry run: nothing was deleted (customer {digest})")
        return 0 if any(n for _, n in counts) else EXIT_FAILED
    with (
        open_session(config) as spark,
        operation(spark, config, "erase", digest) as (ctx, results),
    ):
        erasure = erase(ctx, args.email, args.retain_hours)
        results.extend(erasure.run_log)
    rows = [(r.table, r.deleted, r.version) for r in erasure.results]
    if erasure.finished is not None:
        print(f"finished {erasure.finished.describe()}, which had been cut short")
    print(format_table(("table", "rows deleted", "version"), rows))
    print(f"recorded as run {ctx.run_id}, customer {digest} (the email is not stored)")
    if erasure.retain_hours == 0:
        print(
            f"vacuum deleted {erasure.files_deleted} data files and the log before the erasure "
            f"of {len(erasure.tables)} tables: no file of the warehouse holds the customer, and "
            "time travel to those tables starts at the erasure"
        )
    else:
        hours = f"{erasure.retain_hours:g}h"
        print(
            f"vacuum (retain {hours}) deleted {erasure.files_deleted} data files. Versions "
            f"from before the erasure still hold the customer's rows until their files are "
            f"older than {hours} and `lakehouse vacuum` runs; time travel to them ends then."
        )
    print("the customer is on the suppression list: later deliveries of theirs are not ingested")
    if erasure.landing_files:
        print("the landing zone still holds this customer's records in:")
        print("\n".join(f"  {printable(path)}" for path in erasure.landing_files))
    return 0


def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    from lakehouse.app.audit import AUDITED_TABLES, consent_violations
    from lakehouse.core.timetravel import resolve_as_of

    with opened_warehouse(config) as (spark, tables), query_errors():
        missing = sorted(set(AUDITED_TABLES) - set(tables))
        if missing:
            raise UnknownTable(
                f"nothing to audit: {config.paths.warehouse} has no {', '.join(missing)}; "
                "run `lakehouse run` first"
            )
        as_of = resolve_as_of(spark, config.paths.warehouse, args.as_of) if args.as_of else None
        label = as_of.label if as_of else "now"
        violations = consent_violations(spark, config, as_of)
    rows = [(v.table, v.rows, ", ".join(v.sample)) for v in violations]
    if args.format == "json":
        found = [
            {"table": v.table, "rows": v.rows, "sample_keys": list(v.sample)} for v in violations
        ]
        print(json_text({"as_of": label, "passed": not violations, "violations": found}))
        return EXIT_FAILED if violations else 0
    if not violations:
        print(
            f"consent audit ({label}): every silver and gold row belongs to a consenting "
            "customer" + (" and was read after consent" if config.privacy.consent_cutoff else "")
        )
        return 0
    print(f"consent audit ({label}): VIOLATIONS")
    print(format_table(("table", "rows", "sample keys"), rows))
    return EXIT_FAILED


def cmd_quarantine(args: argparse.Namespace, config: Config) -> int:
    from bronze.replay import quarantine_summary, replay_quarantine
    from lakehouse.app.pipeline import operation

    if args.action not in ("summary", "replay"):
        raise ConfigError(f"quarantine takes summary or replay, not {args.action!r}")
    with opened_warehouse(config) as (spark, tables):
        if QUARANTINE.qualified_name not in tables:
            if args.format == "json" and args.action == "summary":
                print("[]")
            else:
                print(f"no quarantine in {config.paths.warehouse}: run `lakehouse run` first")
            return 0
        if args.action == "replay":
            replay = operation(spark, config, "quarantine replay", QUARANTINE.qualified_name)
            with replay as (ctx, done):
                done.extend(replay_quarantine(ctx))
            moved = {r.table: r.inserted for r in done if r.table != QUARANTINE.qualified_name}
            print(format_table(("table", "lines moved in"), sorted(moved.items())))
            print(
                f"replay {ctx.run_id}: {sum(moved.values())} quarantined lines now parse and "
                "were moved into bronze; the next `lakehouse run` carries them into silver and gold"
            )
            return 0
        rows = [tuple(row) for row in quarantine_summary(spark).collect()]
    columns = ("source", "file", "reason", "lines")
    if args.format == "json":
        _print_json(columns, rows)
    else:
        print(format_table(columns, rows) if rows else "quarantine empty")
    return 0


def cmd_ddl(args: argparse.Namespace, config: Config) -> int:
    with opened_warehouse(config) as (spark, names):
        tables = [
            catalog_table(spark, config.catalog, name, _location(config, name)) for name in names
        ]
    if not tables:
        raise UnknownTable(f"no tables in {config.paths.warehouse}: run `lakehouse run` first")
    print(ddl_script(tables, args.dialect), end="")
    return 0


def cmd_config(args: argparse.Namespace, config: Config) -> int:
    shown = OmegaConf.structured(config)
    if shown.privacy.pseudonym_salt != AUTO:
        shown.privacy.pseudonym_salt = "***"  # a secret: never printed
    print(OmegaConf.to_yaml(shown), end="")
    return 0


def _location(config: Config, name: str) -> str:
    return table_location(config.paths.warehouse, name)


def whole_hours(text: str) -> int:
    """A retention in whole hours >= 0 (deltalake's vacuum counts whole hours only)."""
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if hours < 0 or not hours.is_integer():
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a whole number of hours, 0 or more (vacuum keeps whole hours)"
        )
    return int(hours)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit cannot fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured output): nothing will be flushed to the pipe


def _is_override(item: str) -> bool:
    # `~key` deletes a key; `+table` is a run target (its upstream), not an override.
    return "=" in item or item.startswith("~")


if __name__ == "__main__":
    sys.exit(main())

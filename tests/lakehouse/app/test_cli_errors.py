"""Commands that read write nothing; writes through `sql` are explicit, locked and recorded;
user mistakes get one line and a documented exit code (in-process through `main`, as a user
runs it, and through a real pipe)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.app.cli import main
from lakehouse.core.lock import warehouse_lock
from lakehouse.core.statements import parse_statements
from tests.helpers import ROOT, customer

Capture = pytest.CaptureFixture[str]


def overrides(root: Path) -> list[str]:
    return [f"paths.landing={root / 'landing'}", f"paths.warehouse={root / 'wh'}"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing zone and a warehouse after one full run (copied, never changed, by tests)."""
    root = tmp_path_factory.mktemp("built")
    sample = ["--customers", "12", "--readings-per-customer", "4"]
    assert main(["generate", *sample, *overrides(root)]) == 0
    assert main(["run", *overrides(root)]) == 0
    return root


@pytest.fixture
def site(built: Path, tmp_path: Path, capsys: Capture) -> Path:
    shutil.copytree(built, tmp_path / "site")
    capsys.readouterr()
    return tmp_path / "site"


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below `folder` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def one_line(capsys: Capture) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def csv_rows(capsys: Capture, root: Path, query: str, *extra: str) -> list[str]:
    capsys.readouterr()
    assert main(["sql", query, "--format", "csv", *extra, *overrides(root)]) == 0
    return capsys.readouterr().out.splitlines()[1:]


# --- which statements read ---------------------------------------------------------------

READING = [
    "SELECT 1",
    "select * from gold.customer_curated where email = 'x'",
    "WITH recent AS (SELECT * FROM ops.runs) SELECT count(*) FROM recent",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT * FROM silver.customer_trusted VERSION AS OF 1",
    "SELECT (SELECT max(x) FROM silver.accelerometer_trusted) AS m",
    "DESCRIBE gold.customer_curated",
    "DESCRIBE HISTORY gold.customer_curated",
    "SHOW TABLES",
    "EXPLAIN SELECT 1",
    "EXPLAIN EXTENDED SELECT * FROM gold.customer_curated",
    "VALUES (1), (2)",
    "SELECT 1;",
    "/* DELETE FROM gold.customer_curated */ SELECT 1",
    "SELECT 1 -- ; DROP TABLE gold.customer_curated",
    "SELECT '; DROP TABLE gold.customer_curated' AS text",
    "SELECT `delete` FROM (SELECT 1 AS `delete`)",
]
WRITING = [
    "DELETE FROM gold.customer_curated WHERE email = 'x'",
    "UPDATE gold.customer_curated SET phone = '0'",
    "INSERT INTO gold.customer_curated SELECT * FROM gold.customer_curated",
    "INSERT OVERWRITE gold.customer_curated SELECT * FROM gold.customer_curated",
    "WITH c AS (SELECT * FROM gold.customer_curated) INSERT INTO gold.x SELECT * FROM c",
    "MERGE INTO gold.a t USING gold.b s ON t.k = s.k WHEN MATCHED THEN DELETE",
    "CREATE TABLE gold.copy AS SELECT * FROM gold.customer_curated",
    "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1",
    "DROP TABLE gold.customer_curated",
    "ALTER TABLE gold.customer_curated ADD COLUMNS (c INT)",
    "TRUNCATE TABLE gold.customer_curated",
    "SET spark.sql.shuffle.partitions = 1",
    "CACHE TABLE gold.customer_curated",
    "UNCACHE TABLE gold.customer_curated",
    "REFRESH TABLE gold.customer_curated",
    "USE gold",
    "VACUUM gold.customer_curated RETAIN 0 HOURS",
    "OPTIMIZE gold.customer_curated",
    "RESTORE TABLE gold.customer_curated TO VERSION AS OF 1",
    "MSCK REPAIR TABLE gold.customer_curated",
    "SELECT * INTO gold.copy FROM gold.customer_curated",
    "EXPLAIN DELETE FROM gold.customer_curated",
    "SELECT 1; DROP TABLE gold.customer_curated",
    "delete /* quiet */ from gold.customer_curated",
    "SELEC 1",  # not parseable: fail safe
    "",
]


@pytest.mark.parametrize("statement", READING)
def test_queries_read_only(statement: str) -> None:
    assert parse_statements(statement).read_only


@pytest.mark.parametrize("statement", WRITING)
def test_anything_else_counts_as_a_write(statement: str) -> None:
    assert not parse_statements(statement).read_only


def test_statement_summary_names_kind_and_tables_but_not_the_text() -> None:
    text = "DELETE FROM gold.customer_curated WHERE email = 'jo.wu@example.com'"
    parsed = parse_statements(text)
    assert parsed.kinds == ("DELETE",) and parsed.tables == ("gold.customer_curated",)
    assert "jo.wu" not in parsed.summary and parsed.digest in parsed.summary
    assert parse_statements(text.replace("jo.wu", "ben.wu")).digest != parsed.digest
    cte = parse_statements("WITH c AS (SELECT * FROM gold.a) INSERT INTO gold.b SELECT * FROM c")
    assert cte.tables == ("gold.a", "gold.b")
    assert parse_statements("SELECT 1; SELECT 2").count == 2


# --- reading creates nothing -------------------------------------------------------------

READ_COMMANDS = [
    ["tables"],
    ["runs"],
    ["history", "silver.customer_trusted"],
    ["diff", "gold.customer_curated", "0", "1"],
    ["sql", "SELECT count(*) FROM gold.customer_curated"],
    ["sql", "SELECT 1"],
    ["sql", "SELECT 1", "--allow-writes"],  # a query stays a query
    ["sql", "SELECT count(*) FROM gold.customer_curated", "--as-of", "0"],
    ["audit", "consent"],
    ["ddl"],
    ["config"],
    ["quarantine"],
    ["vacuum"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_commands_against_a_missing_warehouse_create_nothing(
    command: list[str], tmp_path: Path, capsys: Capture
) -> None:
    code = main([*command, *overrides(tmp_path)])
    assert not (tmp_path / "wh").exists()
    assert list(tmp_path.iterdir()) == []
    assert code in (0, 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 1, err


def test_vacuum_of_an_empty_warehouse_says_so(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "wh").mkdir()
    assert main(["vacuum", *overrides(tmp_path)]) == 0
    assert "nothing to vacuum" in capsys.readouterr().out
    assert list((tmp_path / "wh").iterdir()) == []


@pytest.mark.slow
def test_reading_commands_leave_a_warehouse_as_it_was(site: Path, capsys: Capture) -> None:
    before = listing(site)
    for command in READ_COMMANDS[:-1]:
        assert main([*command, *overrides(site)]) == 0, command
        assert listing(site) == before, command
    assert "Traceback" not in capsys.readouterr().err


# --- sql writes only when told to --------------------------------------------------------


def test_sql_refuses_statements_that_write(site: Path, capsys: Capture) -> None:
    before = listing(site)
    for statement in WRITING[:10]:
        assert main(["sql", statement, *overrides(site)]) == 2, statement
        line = one_line(capsys)
        assert "--allow-writes" in line or "statements given" in line or "no SQL" in line
        assert listing(site) == before, statement
    assert main(["sql", "SELEC 1", *overrides(site)]) == 2
    assert "cannot tell whether this statement only reads" in one_line(capsys)
    assert main(["sql", "SELECT 1; SELECT 2", *overrides(site)]) == 2
    assert "one at a time" in one_line(capsys)
    delete = ["sql", "DELETE FROM gold.customer_curated", "--allow-writes", "--as-of", "0"]
    assert main([*delete, *overrides(site)]) == 2
    assert "--as-of reads the past" in one_line(capsys)
    assert listing(site) == before


def test_sql_writes_under_the_lock_and_in_the_run_log(site: Path, capsys: Capture) -> None:
    emails = csv_rows(capsys, site, "SELECT email FROM gold.customer_curated ORDER BY email")
    victim = emails[0]
    delete = f"DELETE FROM gold.customer_curated WHERE email = '{victim}'"

    # Another writer holds the warehouse: the statement waits, then gives up untouched.
    with warehouse_lock(str(site / "wh"), "someone-else", 0):
        code = main(
            ["sql", delete, "--allow-writes", "run.lock_timeout_seconds=0", *overrides(site)]
        )
        assert code == 3
        assert "busy" in one_line(capsys)
    assert len(csv_rows(capsys, site, "SELECT email FROM gold.customer_curated")) == len(emails)

    assert main(["sql", delete, "--allow-writes", *overrides(site)]) == 0
    out = capsys.readouterr().out
    assert "DELETE recorded as run" in out and "gold.customer_curated 1 -> 2" in out
    run_id = out.split("recorded as run ")[1].split()[0]
    remaining = csv_rows(capsys, site, "SELECT email FROM gold.customer_curated ORDER BY email")
    assert remaining == emails[1:]

    logged = csv_rows(
        capsys, site, f"SELECT command, target, status FROM ops.runs WHERE run_id = '{run_id}'"
    )
    assert len(logged) == 1 and logged[0].startswith("sql,DELETE gold.customer_curated")
    assert logged[0].endswith(",succeeded")
    changed = csv_rows(
        capsys,
        site,
        "SELECT table_name, version_before, version_after FROM ops.run_tables "
        f"WHERE run_id = '{run_id}'",
    )
    assert changed == ["gold.customer_curated,1,2"]
    everything = "\n".join(
        line
        for table in ("ops.runs", "ops.run_tables")
        for line in csv_rows(capsys, site, f"SELECT * FROM {table}")
    )
    assert victim not in everything  # the WHERE clause named a person: only a digest is kept

    assert main(["history", "gold.customer_curated", *overrides(site)]) == 0
    newest = capsys.readouterr().out.splitlines()[2]
    assert newest.split()[0] == "2" and newest.split()[-1] == run_id


# --- sql reaches tables: files by path only when allowed, secrets never, ops never written --


def test_sql_never_prints_the_warehouse_secret(site: Path, capsys: Capture) -> None:
    # What `privacy.pseudonym_salt=auto` keeps (the tests set the salt in the environment).
    secret = site / "wh" / "_secrets" / "pseudonym_salt"
    secret.parent.mkdir()
    salt = "a-secret-salt-0123456789abcdef"
    secret.write_text(salt)
    attacks = [
        f"SELECT * FROM text.`{secret}`",
        f"SELECT * FROM csv.`{site / 'wh'}/*/pseudonym_salt`",
        f"SELECT * FROM binaryFile.`file://{site / 'wh' / '_secrets'}`",
        f"SELECT * FROM gold.customer_curated, text.`{secret}`",
    ]
    options: tuple[list[str], ...] = (
        [],
        ["--allow-paths"],
        ["--as-of", "0"],
        ["--allow-paths", "--format", "csv"],
    )
    for attack in attacks:
        for flags in options:
            assert main(["sql", attack, *flags, *overrides(site)]) == 2, (attack, flags)
            captured = capsys.readouterr()
            assert salt not in captured.out + captured.err
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
            assert "the warehouse's secrets" in lines[0] and "whatever its options" in lines[0]


def test_sql_reads_files_by_path_only_when_allowed(site: Path, capsys: Capture) -> None:
    data = site / "extra.csv"
    data.write_text("a,b\n1,2\n")
    for query in (f"SELECT * FROM csv.`{data}`", "SELECT * FROM csv.`/etc/shadow`"):
        assert main(["sql", query, *overrides(site)]) == 2
        assert "--allow-paths" in one_line(capsys)
    query = f"SELECT * FROM csv.`{data}` ORDER BY _c0"
    assert csv_rows(capsys, site, query, "--allow-paths") == ["1,2", "a,b"]


def test_sql_never_writes_the_run_log_or_the_suppression_list(site: Path, capsys: Capture) -> None:
    before = listing(site / "wh" / "ops")
    for statement in (
        "DELETE FROM ops.suppression_list",
        "UPDATE ops.runs SET status = 'succeeded'",
        "DROP TABLE ops.run_tables",
        f"DELETE FROM delta.`{site / 'wh' / 'ops' / 'suppression_list'}`",
    ):
        for flags in (["--allow-writes"], ["--allow-writes", "--allow-paths"]):
            assert main(["sql", statement, *flags, *overrides(site)]) == 2, statement
            assert "only through their commands" in one_line(capsys)
    assert listing(site / "wh" / "ops") == before


def test_sql_json_is_valid_json_and_keeps_every_digit(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "wh").mkdir()
    query = (
        "SELECT CAST('NaN' AS DOUBLE) AS nan, CAST('Infinity' AS DOUBLE) AS up, "
        "CAST('-Infinity' AS FLOAT) AS down, 1.5D AS plain, "
        "CAST('12345678901234567890.123456789' AS DECIMAL(38, 9)) AS exact, "
        "array(CAST('NaN' AS DOUBLE)) AS listed"
    )
    assert main(["sql", query, "--format", "json", *overrides(tmp_path)]) == 0

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    row = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert row == {
        "nan": "NaN",
        "up": "Infinity",
        "down": "-Infinity",
        "plain": 1.5,
        "exact": "12345678901234567890.123456789",
        "listed": ["NaN"],
    }


def test_describe_lists_a_tables_columns(site: Path, capsys: Capture) -> None:
    for form in ("DESCRIBE", "DESCRIBE TABLE", "DESC", "DESCRIBE EXTENDED"):
        rows = csv_rows(capsys, site, f"{form} gold.customer_curated")
        assert "email,string," in rows, (form, rows)
        assert len(rows) > 3
    assert csv_rows(capsys, site, "DESCRIBE gold.customer_curated", "--as-of", "0") == rows
    assert main(["sql", "DESCRIBE gold.no_such_table", *overrides(site)]) == 1
    assert "`lakehouse tables` lists the tables" in one_line(capsys)


# --- mistakes: one line, a documented code ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("SELECT * FROM gold.no_such_table", "`lakehouse tables` lists the tables"),
        ("SELECT no_such_column FROM gold.customer_curated", "the query cannot run"),
        ("SELECT * FROM gold.customer_curated VERSION AS OF 99", "no such table version"),
        (
            "SELECT * FROM gold.customer_curated TIMESTAMP AS OF '2001-01-01'",
            "no such table version",
        ),
    ],
)
def test_query_mistakes_get_one_line(site: Path, capsys: Capture, query: str, says: str) -> None:
    assert main(["sql", query, *overrides(site)]) == 1
    assert says in one_line(capsys)


def test_a_syntax_error_the_engine_finds_gets_one_line(site: Path, capsys: Capture) -> None:
    assert main(["sql", "SELEC 1", "--allow-writes", *overrides(site)]) == 1
    assert one_line(capsys).startswith("error: SQL syntax error")


def test_vacuumed_versions_and_vacuum_runs(site: Path, capsys: Capture) -> None:
    delete = "DELETE FROM gold.customer_curated WHERE email LIKE '%.0@%'"
    assert main(["sql", delete, "--allow-writes", *overrides(site)]) == 0
    assert main(["vacuum", "--retain-hours", "0", *overrides(site)]) == 0
    capsys.readouterr()

    # (A count could be answered from the log's statistics; this reads the data files.)
    old = "SELECT max(email) FROM gold.customer_curated VERSION AS OF 1"
    assert main(["sql", old, *overrides(site)]) == 1
    assert "lost its data files to `lakehouse vacuum`" in one_line(capsys)
    assert main(["diff", "gold.customer_curated", "1", "2", *overrides(site)]) == 1
    line = one_line(capsys)
    assert "no longer retained" in line and "vacuum" in line
    before = listing(site / "wh" / "gold" / "customer_curated")
    assert main(["restore", "gold.customer_curated", "1", *overrides(site)]) == 1
    assert "lost its data files to vacuum" in one_line(capsys)
    assert listing(site / "wh" / "gold" / "customer_curated") == before

    # The vacuum is a run of its own, and its commits name it.
    assert main(["runs", *overrides(site)]) == 0
    runs = capsys.readouterr().out.splitlines()[2:]
    vacuum_run = next(line.split()[0] for line in runs if line.split()[1] == "vacuum")
    started = [re.search(r"\d{4}-\d\d-\d\dT[\d:]+(\S*)", line) for line in runs]
    assert all(match and match.group(1) == "+00:00" for match in started), runs
    assert main(["history", "gold.customer_curated", *overrides(site)]) == 0
    history = capsys.readouterr().out.splitlines()[2:]
    vacuum_commits = [line for line in history if "VACUUM" in line]
    assert len(vacuum_commits) == 2  # VACUUM START and VACUUM END
    assert all(line.split()[-1] == vacuum_run for line in vacuum_commits)
    assert history[0].split()[1].endswith("+00:00")


def test_test_refuses_one_tables_version_over_many_tables(site: Path, capsys: Capture) -> None:
    # As `audit` does: version 1 of one table says nothing about the others.
    for command in (["test"], ["test", "gold.customer_curated"], ["test", "+silver"]):
        assert main([*command, "--as-of", "1", *overrides(site)]) == 1, command
        line = one_line(capsys)
        assert "is one table's version" in line and "run id" in line, line
    assert main(["test", "silver.customer_trusted", "--as-of", "1", *overrides(site)]) == 0


@pytest.mark.slow  # two runs
def test_a_run_that_skips_bronze_does_not_claim_nothing_waits(site: Path, capsys: Capture) -> None:
    waiting = site / "landing" / "customer" / "late-delivery.json"
    waiting.write_text(json.dumps(customer("late@example.com", 5, 1)) + "\n")
    assert main(["run", "silver.customer_trusted+", *overrides(site)]) == 0
    out = capsys.readouterr().out
    assert "nothing new to ingest" not in out
    assert out.startswith("up to date: nothing new to rebuild")
    assert "silver.customer_trusted+ does not include bronze: the landing zone was not read" in out
    assert main(["run", "--format", "json", *overrides(site)]) == 0
    report = json.loads(capsys.readouterr().out)
    landed = {t["table"]: t["inserted"] for t in report["tables"]}
    assert landed["bronze.customer_landing"] >= 1 and not report["notes"]


def test_audit_of_an_empty_warehouse_is_no_pass(tmp_path: Path, capsys: Capture) -> None:
    assert main(["audit", "consent", *overrides(tmp_path)]) == 1
    assert "nothing to audit" in one_line(capsys)


def test_history_of_an_unknown_version_target(site: Path, capsys: Capture) -> None:
    assert main(["diff", "gold.customer_curated", "0", "no-such-run", *overrides(site)]) == 1
    assert "lakehouse runs" in one_line(capsys)
    assert main(["diff", "gold.customer_curated", "0", "99", *overrides(site)]) == 1
    assert "has versions up to" in one_line(capsys)
    assert main(["history", "gold.nothing", *overrides(site)]) == 1
    assert "no table gold.nothing" in one_line(capsys)


def test_output_cut_short_by_head_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    query = "SELECT id, id * 2 AS twice FROM range(3000000)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "lakehouse", "sql", query, "--format", "csv"]
    with subprocess.Popen(
        [*command, *overrides(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline() == b"id,twice\n"
        child.stdout.close()  # what `| head -1` does
        err = child.stderr.read().decode()
        assert child.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_land_into_a_missing_bucket_is_a_configuration_error(
    moto_endpoint: str, tmp_path: Path, capsys: Capture
) -> None:
    assert main(["generate", "--customers", "3", "--files", "1", *overrides(tmp_path)]) == 0
    capsys.readouterr()
    s3 = ["storage=s3", "storage.bucket=no-such-bucket", f"storage.endpoint_url={moto_endpoint}"]
    assert main(["land", str(tmp_path / "landing"), "s3://no-such-bucket/landing", *s3]) == 2
    line = one_line(capsys)
    assert line.startswith("configuration error: cannot write to s3://no-such-bucket/landing")
    assert "NoSuchBucket" in line and "Check storage.bucket" in line
    # `generate` into such a landing zone says the same.
    assert main(["generate", "--customers", "3", "--files", "1", *s3]) == 2
    assert "Check storage.bucket" in one_line(capsys)


@pytest.mark.parametrize(
    "command",
    [
        ["tables"],
        ["runs"],
        ["history", "gold.customer_curated"],
        ["diff", "gold.customer_curated", "0", "1"],
        ["sql", "SELECT * FROM gold.customer_curated"],
        ["audit", "consent"],
        ["quarantine"],
        ["vacuum"],
        ["restore", "gold.customer_curated", "0"],
    ],
)
def test_any_command_against_a_missing_bucket_gets_the_configuration_line(
    moto_endpoint: str, capsys: Capture, command: list[str]
) -> None:
    s3 = ["storage=s3", "storage.bucket=no-such-bucket", f"storage.endpoint_url={moto_endpoint}"]
    assert main([*command, *s3]) == 2
    line = one_line(capsys)
    assert line.startswith("configuration error: ") and "NoSuchBucket" in line, line
    assert "Check storage.bucket" in line


# --- generate ----------------------------------------------------------------------------


def test_generate_counts_what_it_wrote_and_is_idempotent(tmp_path: Path, capsys: Capture) -> None:
    mine = tmp_path / "landing" / "customer" / "export-from-crm.json"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"customerName": "not generated"}\n')
    sample = ["generate", "--customers", "30", "--files", "3", *overrides(tmp_path)]
    assert main(sample) == 0
    out = capsys.readouterr().out
    written = [p for p in (tmp_path / "landing").rglob("*.json") if p != mine]
    assert out.startswith(f"wrote {len(written)} files to ")
    assert len(written) in (9, 10) and "(3 per source" in out

    before = listing(tmp_path / "landing")
    assert main(sample) == 0
    assert f"{len(written)} of them already there with the same content" in capsys.readouterr().out
    assert listing(tmp_path / "landing") == before


def test_generate_refuses_to_mix_two_samples(tmp_path: Path, capsys: Capture) -> None:
    first = ["generate", "--customers", "8", "--readings-per-customer", "3", "--files", "2"]
    assert main([*first, *overrides(tmp_path)]) == 0
    landing = tmp_path / "landing"
    before = listing(landing)

    for other in (["--seed", "7"], ["--files", "1"], ["--no-serial-bug"]):
        assert main([*first, *other, *overrides(tmp_path)]) == 2, other
        line = one_line(capsys)
        assert "would mix with it in bronze" in line and "--replace" in line
        assert listing(landing) == before

    # Once ingested, even an emptied landing zone remembers which sample it fed.
    assert main(["run", *overrides(tmp_path)]) == 0
    shutil.rmtree(landing)
    assert main([*first, "--seed", "7", *overrides(tmp_path)]) == 2
    assert "the warehouse ingested other content" in one_line(capsys)
    assert main([*first, *overrides(tmp_path)]) == 0  # the same sample again is fine
    capsys.readouterr()
    assert listing(landing).keys() == before.keys()

    # --replace: the user asked for it; files of the other generation do not linger.
    assert main([*first, "--files", "1", "--replace", *overrides(tmp_path)]) == 0
    names = sorted(p.name for p in landing.rglob("*.json"))
    assert "accelerometer-0002.json" not in names and "accelerometer-0001.json" in names

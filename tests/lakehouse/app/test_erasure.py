"""Erasure as an auditor tries it: no byte of the warehouse names the person afterwards,
every spelling of their email is found, and no later delivery brings them back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from lakehouse.app.audit import consent_violations
from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.faults import ACTION_ENV, FAULT_ENV, InjectedFault
from lakehouse.core.identity import email_digest
from tests.helpers import ROOT, customer, land, overrides, reading, rows, step, traces_of

pytestmark = pytest.mark.slow

EMAIL = "Zelda.Quist@Example.com"
NAME = "ZELDA.QUIST"  # `customer()` names a customer after the email's local part


def land_zelda_and_b(config, days: int) -> None:  # type: ignore[no-untyped-def]
    """Zelda (consenting) and B, her email spelt three ways, a bad line naming her, and a
    reading a day for `days` days (so her tables pass Delta checkpoints)."""
    land(config, "customer", "c1.json", customer(EMAIL, 100, 1000), customer("b@x", 100, 1000))
    first = [reading(f"  {EMAIL.upper()}", 1500), reading(EMAIL.lower(), 2500)]
    land(config, "accelerometer", "a1.json", *first, reading("b@x", 1600))
    with open(Path(config.paths.landing, "accelerometer", "a1.json"), "a") as broken:
        broken.write(f'{{"user": "{EMAIL}", "x": oops\n')  # quarantined, naming her
        broken.write(f"user={EMAIL.lower()};x=1\n")  # not JSON at all, naming her
        # A no-break space after the email: bronze admits the padding; erasure must see it.
        broken.write(json.dumps(reading(f"{EMAIL}\u00a0", 1700)) + "\n")
    land(config, "step_trainer", "s1.json", *[step(t) for t in (1500, 1600, 2500)])
    for day in range(days):
        at = 10_000 + day
        land(config, "accelerometer", f"a-{day:02d}.json", reading(EMAIL, at), reading("b@x", at))
        land(config, "step_trainer", f"s-{day:02d}.json", step(at))


def test_erase_leaves_no_byte_naming_the_person(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    warehouse = Path(config.paths.warehouse)
    land_zelda_and_b(config, days=0)
    run_pipeline(spark, config)
    # A table made by an older DDL, with statistics of every column (so the email among them).
    spark.sql(
        "ALTER TABLE bronze.customer_landing "
        "SET TBLPROPERTIES ('delta.dataSkippingStatsColumns' = 'customerName,email,phone')"
    )
    # A file whose one line names her and does not parse: quarantined, and named by erase.
    land_path = Path(config.paths.landing, "accelerometer", "only broken.json")
    land_path.write_text(f'{{"user": "{EMAIL}", "timestamp": \n')
    for day in range(11):  # eleven more runs: checkpoints in every table she is in
        land(config, "accelerometer", f"a-{day:02d}.json", reading(EMAIL, 10_000 + day))
        land(config, "step_trainer", f"s-{day:02d}.json", step(10_000 + day))
        land(config, "customer", f"c-{day:02d}.json", customer(EMAIL, 200 + day, 1000))
        run_pipeline(spark, config)
    # What a killed run leaves behind: a scratch copy of raw records.
    scratch = warehouse / "_staging" / "landing.customer"
    scratch.mkdir(parents=True)
    (scratch / "part-00000.json").write_text(json.dumps(customer(EMAIL, 1, 1)))
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    needles = [EMAIL, key, NAME]
    assert traces_of(warehouse, needles)  # the test can see her
    assert list(warehouse.rglob("*.checkpoint.parquet"))

    assert main(["erase", "--email", f" {EMAIL.upper()} ", "--dry-run", *overrides(config)]) == 0
    planned = capsys.readouterr().out
    assert "silver.accelerometer_trusted" in planned and "nothing was deleted" in planned
    assert spark.table("silver.customer_trusted").count() == 2

    assert (
        main(["erase", "--email", f" {EMAIL.upper()} ", "--retain-hours", "0", *overrides(config)])
        == 0
    )
    out = capsys.readouterr().out
    assert "suppression list" in out and "the landing zone still holds" in out
    assert "only broken.json" in out and "c1.json" in out
    assert traces_of(warehouse, needles) == []
    assert rows(spark.table("silver.customer_trusted"), "email") == [("b@x",)]
    assert rows(spark.table("bronze.step_trainer_landing"), "sensorReadingTime") == [(1600,)]
    assert spark.table("bronze.quarantine").count() == 0
    assert rows(spark.table("ops.suppression_list"), "digest") == [(email_digest(EMAIL),)]

    # Redelivered, appended to, spelt otherwise: she does not come back.
    with open(Path(config.paths.landing, "customer", "c1.json"), "a") as more:
        more.write(json.dumps(customer("c@x", 100, 1000)) + "\n")
    land(config, "accelerometer", "late.json", reading(f"{EMAIL.lower()} ", 20_000))
    _, results = run_pipeline(spark, config)
    notes = [note for result in results for note in result.notes]
    assert any("erased customers not ingested" in note for note in notes)
    assert {r[0] for r in rows(spark.table("bronze.customer_landing"), "email")} == {"b@x", "c@x"}
    assert rows(spark.table("silver.customer_trusted"), "email") == [("b@x",), ("c@x",)]
    assert traces_of(warehouse, needles) == []

    # Erasing her again finds nothing: a clear failure, not a second "succeeded".
    capsys.readouterr()
    assert main(["erase", "--email", EMAIL, *overrides(config)]) == 1
    assert "nothing was erased" in capsys.readouterr().err
    statuses = rows(spark.table("ops.runs").where("command = 'erase'"), "status")
    assert statuses == [("failed",), ("succeeded",)]

    # The audit names her wherever she turns up again, by digest only.
    assert consent_violations(spark, config) == []
    spark.sql(
        "INSERT INTO bronze.accelerometer_landing VALUES "
        f"('{EMAIL.upper()}', 1, 0.0, 0.0, 0.0, 'f', 'c', 1, 99, 'r', current_timestamp(), NULL)"
    )
    columns = spark.table("bronze.quarantine").columns
    values = {
        "raw": f'\'{{"user": "{EMAIL.lower()}", broken\'',
        "source_line": "7",
        "source": "'accelerometer'",
    }
    spark.sql(
        "INSERT INTO bronze.quarantine SELECT "
        + ", ".join(f"{values.get(c, 'NULL')} AS `{c}`" for c in columns)
    )
    found = {v.table: v for v in consent_violations(spark, config)}
    assert list(found) == [
        "bronze.accelerometer_landing (erased person)",
        "bronze.quarantine (erased person)",
    ]
    assert all(v.sample == [email_digest(EMAIL)] for v in found.values())


def test_erase_finds_rows_a_deletion_vector_hid_after_deletion_vectors_are_turned_off(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """Her withdrawal only marked her readings deleted; erasing her later, with deletion
    vectors off by then, must still rewrite the files that hold them."""
    config = make_config("tables.deletion_vectors=true")
    warehouse = Path(config.paths.warehouse)
    land_zelda_and_b(config, days=1)
    run_pipeline(spark, config)
    land(config, "customer", "withdrawal.json", customer(EMAIL, 300, None))
    run_pipeline(spark, config)
    assert spark.table("silver.accelerometer_trusted").where("user = 'b@x'").count() > 0
    assert rows(spark.table("silver.customer_trusted"), "email") == [("b@x",)]
    assert traces_of(warehouse / "silver" / "accelerometer_trusted", [EMAIL])

    config = make_config()  # deletion vectors off
    assert main(["erase", "--email", EMAIL, "--retain-hours", "0", *overrides(config)]) == 0
    capsys.readouterr()
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    assert traces_of(warehouse, [EMAIL, key, NAME]) == []
    assert spark.table("silver.accelerometer_trusted").where("user = 'b@x'").count() > 0


def test_a_restore_cannot_bring_an_erased_person_back(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    land_zelda_and_b(config, days=1)
    run_pipeline(spark, config)
    assert main(["erase", "--email", EMAIL, *overrides(config)]) == 0
    erased_at = {
        row["table_name"]: row["version_after"]
        for row in spark.table("ops.run_tables").collect()
        if row["rows_deleted"]
    }
    capsys.readouterr()
    for table in (
        "bronze.accelerometer_landing",
        "silver.customer_trusted",
        "gold.customer_curated",
    ):
        assert main(["restore", table, "1", *overrides(config)]) == 1, table
        err = capsys.readouterr().err
        assert "before an erasure" in err and f"version {erased_at[table]} or later" in err
    assert main(["restore", "ops.suppression_list", "0", *overrides(config)]) == 1
    assert "keeps erased people out" in capsys.readouterr().err
    assert main(["restore", "ops.erasures", "0", *overrides(config)]) == 1
    assert "cut short is known" in capsys.readouterr().err
    assert consent_violations(spark, config) == []
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    assert not any(
        EMAIL.lower() in str(row).lower() or key in str(row)
        for table in ("silver.customer_trusted", "gold.customer_curated")
        for row in spark.table(table).collect()
    )
    # A version written since the erasure can be restored; the current one is no restore.
    since = str(erased_at["silver.customer_trusted"])
    assert main(["restore", "silver.customer_trusted", since, *overrides(config)]) == 1
    assert "nothing to restore" in capsys.readouterr().err
    land(config, "customer", "c2.json", customer("c@x", 100, 1000))
    run_pipeline(spark, config)
    assert main(["restore", "silver.customer_trusted", since, *overrides(config)]) == 0


def test_a_mistyped_email_erases_nothing_and_says_so(spark: SparkSession, make_config, capsys):  # type: ignore[no-untyped-def]
    config = make_config()
    land_zelda_and_b(config, days=1)
    run_pipeline(spark, config)
    before = rows(spark.table("silver.accelerometer_trusted"))
    assert (
        main(["erase", "--email", "zelda.quist@example.org", "--dry-run", *overrides(config)]) == 1
    )
    assert main(["erase", "--email", "zelda.quist@example.org", *overrides(config)]) == 1
    assert "nothing was erased" in capsys.readouterr().err
    assert rows(spark.table("silver.accelerometer_trusted")) == before
    assert spark.table("ops.suppression_list").count() == 0


@pytest.mark.parametrize("hours", ["0.9", "-5", "soon"])
def test_retention_must_be_whole_hours(hours: str, capsys) -> None:  # type: ignore[no-untyped-def]
    for command in (["vacuum"], ["erase", "--email", "a@x"]):
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--retain-hours", hours])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert "--retain-hours" in err and "Traceback" not in err


# Every kind of step of an erasure, in its order: the request recorded, deletions (bronze,
# silver, the last table), the vacuum, the log cut (killed while the table's log retention is
# zero), and the record of its completion.
STEPS = [
    "after:ops.erasures",
    "before:silver.step_trainer_trusted",
    "after:gold.machine_learning_curated",
    "after:vacuum:bronze.accelerometer_landing",
    "between:purge:*silver/customer_trusted",
    "erasure:completing",
]
UNFINISHED = "ops.erasures (unfinished erasure)"


@pytest.mark.parametrize("fault", STEPS)
def test_an_erasure_cut_short_is_finished_by_erasing_again(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys, monkeypatch: pytest.MonkeyPatch, fault: str
):
    """Whichever step an erasure stopped at, the audit and vacuum say it is unfinished, and
    running it again leaves nothing of the person in any file or any version, names the
    landing files holding her, and leaves every table's log retention as it was."""
    config = make_config()
    warehouse = Path(config.paths.warehouse)
    land_zelda_and_b(config, days=0)
    run_pipeline(spark, config)
    erase = ["erase", "--email", EMAIL, "--retain-hours", "0", *overrides(config)]
    monkeypatch.setenv(FAULT_ENV, fault)
    monkeypatch.setenv(ACTION_ENV, "raise")
    with pytest.raises(InjectedFault):  # a crash, as far as the erasure can tell
        main(erase)
    monkeypatch.delenv(FAULT_ENV)

    found = {v.table: v for v in consent_violations(spark, config)}
    assert found[UNFINISHED].sample == [email_digest(EMAIL)]
    capsys.readouterr()
    assert main(["vacuum", *overrides(config)]) == 1
    err = capsys.readouterr().err
    assert "unfinished" in err and email_digest(EMAIL) in err and EMAIL not in err

    assert main(erase) == 0
    out = capsys.readouterr().out
    assert "finished the erasure" in out and "c1.json" in out  # named though bronze lost them
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    assert traces_of(warehouse, [EMAIL, key, NAME]) == []
    for table in ("bronze.step_trainer_landing", "silver.step_trainer_trusted"):
        assert rows(spark.table(table), "sensorReadingTime") == [(1600,)], table
    assert rows(spark.table("silver.customer_trusted"), "email") == [("b@x",)]
    assert consent_violations(spark, config) == []
    for table in warehouse.glob("*/*/_delta_log"):
        properties = DeltaTable(str(table.parent)).metadata().configuration
        assert properties.get("delta.logRetentionDuration") != "interval 0 seconds", table
    # Done: erasing her again is the clear failure of an erasure with nothing to do.
    assert main(erase) == 1
    assert "nothing was erased" in capsys.readouterr().err


def test_a_killed_or_interrupted_erase_process_is_finished_by_the_next(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """A real SIGKILL after the last deletion (before the vacuum and log cut), then a real
    SIGINT during the vacuum of the erasure that finishes it: the third finishes it."""
    config = make_config()
    warehouse = Path(config.paths.warehouse)
    land_zelda_and_b(config, days=0)
    run_pipeline(spark, config)
    erase = ["erase", "--email", EMAIL, "--retain-hours", "0", *overrides(config)]

    def erase_process(fault: str, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lakehouse", *erase],
            env={**os.environ, "PYTHONPATH": str(ROOT), FAULT_ENV: fault, ACTION_ENV: action},
            capture_output=True,
            text=True,
            timeout=300,
        )

    killed = erase_process("after:gold.machine_learning_curated", "kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    old = spark.sql("SELECT email FROM silver.customer_trusted VERSION AS OF 1").collect()
    assert EMAIL.lower() in {row[0] for row in old}  # the old version still shows her
    assert UNFINISHED in {v.table for v in consent_violations(spark, config)}

    interrupted = erase_process("before:vacuum:silver.customer_trusted", "sigint")
    assert interrupted.returncode == 130, interrupted.stderr
    assert "finished the erasure" not in interrupted.stdout
    assert UNFINISHED in {v.table for v in consent_violations(spark, config)}

    assert main(erase) == 0
    assert "finished the erasure" in capsys.readouterr().out
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    assert traces_of(warehouse, [EMAIL, key, NAME]) == []
    assert consent_violations(spark, config) == []


def test_the_audit_finds_an_erased_person_in_retained_files_once_the_retention_is_over(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """Within an erasure's retention old versions may hold the person; after it, any file
    still holding them is a violation until a vacuum removes it."""
    config = make_config()
    land_zelda_and_b(config, days=0)
    run_pipeline(spark, config)
    assert main(["erase", "--email", EMAIL, "--retain-hours", "2", *overrides(config)]) == 0
    assert consent_violations(spark, config) == []  # within the two hours

    requests = f"delta.`{config.paths.warehouse}/ops/erasures`"  # made by another session
    spark.sql(  # three hours later, as far as the audit can tell
        f"MERGE INTO {requests} t USING (SELECT digest, requested_at - INTERVAL 3 HOURS AS at "
        f"FROM {requests}) s ON t.digest = s.digest WHEN MATCHED THEN UPDATE SET "
        "requested_at = s.at"
    ).collect()
    found = {v.table for v in consent_violations(spark, config)}
    assert {
        "bronze.customer_landing (erased person in a retained file)",
        "silver.accelerometer_trusted (erased person in a retained file)",
        "bronze.quarantine (erased person in a retained file)",
    } <= found
    assert UNFINISHED not in found
    capsys.readouterr()
    assert main(["vacuum", "--retain-hours", "0", *overrides(config)]) == 0
    assert consent_violations(spark, config) == []


def test_invisible_or_full_width_spellings_do_not_bring_an_erased_person_back(  # type: ignore[no-untyped-def]
    spark: SparkSession, make_config, capsys
):
    """Re-delivered after her erasure with a zero-width space after her email, U+FEFF before
    it, a full-width at sign, or in a broken line spelt so: she is dropped, not a new person."""
    config = make_config()
    warehouse = Path(config.paths.warehouse)
    land_zelda_and_b(config, days=0)
    run_pipeline(spark, config)
    assert main(["erase", "--email", EMAIL, "--retain-hours", "0", *overrides(config)]) == 0
    capsys.readouterr()

    local, domain = EMAIL.split("@")
    spellings = [f"{EMAIL}\u200b", f"\ufeff{EMAIL}", f"{local}\uff20{domain}", f"\u2060{EMAIL}"]
    land(config, "customer", "again.json", *[customer(s, 500, 1000) for s in spellings])
    land(config, "accelerometer", "again.json", *[reading(s, 30_000) for s in spellings])
    with open(Path(config.paths.landing, "customer", "again.json"), "a") as broken:
        record = json.dumps(customer(f"{local}\uff20{domain}", 501, 1000), ensure_ascii=False)
        broken.write(record.replace('"lastUpdateDate": 501', '"lastUpdateDate": "later"') + "\n")
    _, results = run_pipeline(spark, config)

    notes = [note for result in results for note in result.notes]
    assert any("customer: 5 records or lines of erased customers" in n for n in notes), notes
    assert any("accelerometer: 4 records or lines of erased customers" in n for n in notes), notes
    assert rows(spark.table("bronze.customer_landing"), "email") == [("b@x",)]
    assert rows(spark.table("silver.customer_trusted"), "email") == [("b@x",)]
    assert spark.table("bronze.quarantine").count() == 0
    assert consent_violations(spark, config) == []
    key = customer_key(config.privacy.pseudonym_salt, EMAIL)
    assert traces_of(warehouse, [local, local.lower(), key, NAME]) == []


def test_a_full_width_at_sign_is_the_same_customer(spark: SparkSession, make_config) -> None:  # type: ignore[no-untyped-def]
    config = make_config()
    local, domain = EMAIL.split("@")
    land(config, "customer", "c1.json", customer(f"{local}\uff20{domain}", 100, 1000))
    land(config, "accelerometer", "a1.json", reading(EMAIL.lower(), 1500))
    land(config, "step_trainer", "s1.json", step(1500))
    run_pipeline(spark, config)
    assert spark.table("bronze.quarantine").count() == 0
    assert rows(spark.table("silver.customer_trusted"), "email") == [(EMAIL.lower(),)]
    assert rows(spark.table("silver.accelerometer_trusted"), "user") == [(EMAIL.lower(),)]

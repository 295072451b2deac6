"""The command line as a user runs it (in-process, through `main`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.app.cli import main
from lakehouse.core.progress import format_table


def overrides(tmp_path: Path) -> list[str]:
    return [f"paths.landing={tmp_path / 'landing'}", f"paths.warehouse={tmp_path / 'wh'}"]


def test_generate_run_tables_and_sql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["generate", "--customers", "12", "--readings-per-customer", "4", *overrides(tmp_path)]
        )
        == 0
    )
    assert "customer records" in capsys.readouterr().out

    assert main(["run", *overrides(tmp_path)]) == 0
    summary = capsys.readouterr().out
    assert summary.splitlines()[0].split() == [
        "table",
        "read",
        "inserted",
        "updated",
        "deleted",
        "quarantined",
        "version",
    ]
    assert "gold.machine_learning_curated" in summary

    assert main(["tables", *overrides(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert listing.count("bronze.") == 6 and listing.count("silver.") == 3
    assert "ops.watermarks" in listing
    # Overrides before the command mean the same.
    assert main([*overrides(tmp_path), "tables"]) == 0
    assert capsys.readouterr().out == listing

    query = "SELECT count(*) AS n FROM bronze.customer_landing"
    assert main(["sql", query, "--format", "csv", *overrides(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "n" and int(out[1]) >= 12


def test_run_of_one_layer_or_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["generate", "--customers", "5", "--readings-per-customer", "3", *overrides(tmp_path)])
    assert main(["run", "bronze", *overrides(tmp_path)]) == 0
    assert "silver." not in capsys.readouterr().out
    assert main(["run", "silver.customer_trusted", *overrides(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "silver.customer_trusted" in out and "accelerometer_trusted" not in out


def test_bad_configuration_stops_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "privacy.consent_cutoff=perhaps", *overrides(tmp_path)]) == 2
    assert "privacy.consent_cutoff" in capsys.readouterr().err
    assert main(["run", *overrides(tmp_path)]) == 2  # no landing zone yet
    assert "paths.landing" in capsys.readouterr().err
    assert main(["run", "platinum", *overrides(tmp_path)]) == 2
    assert "nothing to run named 'platinum'" in capsys.readouterr().err
    assert not (tmp_path / "wh").exists()


def test_format_table_aligns_numbers_right() -> None:
    text = format_table(("name", "n"), [("a", 5), ("bb", 123)])
    assert text.splitlines() == ["name    n", "----  ---", "a       5", "bb    123"]


def test_an_override_where_an_optional_argument_may_stand_is_an_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "delivery"
    (source / "customer").mkdir(parents=True)
    (source / "customer" / "a.json").write_text('{"email": "a@x.com"}\n')
    landing = tmp_path / "landing"
    # `land SOURCE [TARGET]`: the override is not taken for the target.
    assert main(["land", str(source), f"paths.landing={landing}"]) == 0
    assert (landing / "customer" / "a.json").is_file()
    assert f"landed 1 files in {landing}" in capsys.readouterr().out
    # `quarantine [ACTION]` and `run [TARGET]` likewise: the override reaches the configuration.
    assert main(["quarantine", f"paths.warehouse={tmp_path / 'wh'}"]) == 0
    assert f"no quarantine in {tmp_path / 'wh'}" in capsys.readouterr().out
    assert main(["run", "engine.memory_limit_mb=1"]) == 2
    assert "engine.memory_limit_mb=1" in capsys.readouterr().err

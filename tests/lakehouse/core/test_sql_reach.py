"""What `lakehouse sql` lets a statement reach besides the catalog's tables (parsed, not
matched): files by path only with --allow-paths, the warehouse's secrets never, and `ops.*`
never for a write."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.core.errors import UsageError
from lakehouse.core.sql_reach import check_reach

PATH_READS = [
    "SELECT * FROM csv.`/etc/shadow`",
    "SELECT * FROM TEXT.`/etc/hostname`",
    "SELECT * FROM `json`.`data.json`",  # relative: still a file
    "SELECT * FROM binaryFile.`/etc`",
    "SELECT * FROM parquet.`s3://bucket/x`",
    "SELECT * FROM delta.`/data/table` VERSION AS OF 1",
    "SELECT * FROM avro.`x` JOIN gold.customer_curated ON true",
    "SELECT * FROM (SELECT * FROM orc.`/x`) t",
    "SELECT * FROM read_files('/etc/shadow')",  # a table function an engine may add
    "SELECT * FROM read_csv('/etc/shadow')",
    "SHOW COLUMNS IN csv.`/etc/shadow`",  # opaque to the parser: judged by its tokens
    "SELECT reflect('java.lang.System', 'getenv', 'HOME')",  # any Java method (classic Spark)
]
TABLE_READS = [
    "SELECT * FROM gold.customer_curated",
    "SELECT * FROM range(10)",
    "SELECT * FROM explode(array(1, 2))",
    "SELECT split(email, '/') FROM gold.customer_curated WHERE email LIKE '%:%'",
    "SHOW TABLES",
    "DESCRIBE gold.customer_curated",
]


@pytest.mark.parametrize("statement", PATH_READS)
def test_path_references_need_allow_paths(statement: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--allow-paths"):
        check_reach(statement, str(tmp_path / "wh"), allow_paths=False, writes=False)
    check_reach(statement, str(tmp_path / "wh"), allow_paths=True, writes=False)


@pytest.mark.parametrize("statement", TABLE_READS)
def test_table_reads_need_nothing(statement: str, tmp_path: Path) -> None:
    check_reach(statement, str(tmp_path / "wh"), allow_paths=False, writes=False)


SECRET_PATHS = [
    "{wh}/_secrets/pseudonym_salt",
    "{wh}/_secrets",
    "{wh}/_secrets/",
    "{wh}/gold/../_secrets/pseudonym_salt",
    "{wh}//_secrets/pseudonym_salt",
    "{wh}/*/pseudonym_salt",  # a glob that can match it
    "{wh}/{{_secrets,gold}}/*",
    "{wh}/_sec?ets/*",
    "{wh}",  # a folder above it
    "file://{wh}/_secrets/pseudonym_salt",
    "file://{wh}/%5Fsecrets/pseudonym_salt",  # the engine decodes escapes
    "{link}/pseudonym_salt",  # a symlink into it
]


@pytest.mark.parametrize("path", SECRET_PATHS)
@pytest.mark.parametrize("form", ["SELECT * FROM text.`{}`", "SELECT * FROM read_files('{}')"])
def test_the_secrets_are_never_reached(path: str, form: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    (warehouse / "_secrets").mkdir(parents=True)
    (tmp_path / "link").symlink_to(warehouse / "_secrets")
    statement = form.format(path.format(wh=warehouse, link=tmp_path / "link"))
    with pytest.raises(UsageError, match="secrets"):
        check_reach(statement, str(warehouse), allow_paths=True, writes=False)


def test_a_relative_path_is_resolved_where_the_engine_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    statement = "SELECT * FROM text.`wh/_secrets/pseudonym_salt`"
    with pytest.raises(UsageError, match="secrets"):
        check_reach(statement, str(tmp_path / "wh"), allow_paths=True, writes=False)


@pytest.mark.parametrize(
    "path", ["s3://bkt/wh/_secrets/pseudonym_salt", "s3a://bkt/wh/_secrets/x", "s3://BKT/wh/*/x"]
)
def test_the_secrets_of_an_s3_warehouse_are_never_reached(path: str) -> None:
    with pytest.raises(UsageError, match="secrets"):
        check_reach(f"SELECT * FROM text.`{path}`", "s3://bkt/wh", allow_paths=True, writes=False)
    # Another bucket, or a sibling folder, is not the secrets.
    check_reach(
        "SELECT * FROM text.`s3://bkt/wh/gold/x`", "s3://bkt/wh", allow_paths=True, writes=False
    )
    check_reach(
        "SELECT * FROM text.`s3://other/wh/_secrets`", "s3://bkt/wh", allow_paths=True, writes=False
    )


OPS_WRITES = [
    "DELETE FROM ops.suppression_list",
    "DELETE FROM OPS.Suppression_List WHERE true",
    "UPDATE spark_catalog.ops.runs SET status = 'succeeded'",
    "INSERT INTO ops.runs SELECT * FROM ops.runs",
    "MERGE INTO ops.suppression_list t USING gold.customer_curated s ON true "
    "WHEN MATCHED THEN DELETE",
    "DROP TABLE ops.runs",
    "DROP SCHEMA ops CASCADE",
    "DROP DATABASE `ops`",
    "TRUNCATE TABLE ops.run_tables",
    "ALTER TABLE gold.customer_curated RENAME TO ops.runs",
    "VACUUM ops.runs RETAIN 0 HOURS",  # opaque to the parser
    "RESTORE TABLE ops.suppression_list TO VERSION AS OF 0",
    "DELET FROM ops.suppression_list",  # unparseable
    "DELETE FROM delta.`{wh}/ops/suppression_list`",
]


@pytest.mark.parametrize("statement", OPS_WRITES)
def test_writes_to_ops_are_refused_whatever_the_flags(statement: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    with pytest.raises(UsageError, match="only through their commands"):
        check_reach(statement.format(wh=warehouse), str(warehouse), allow_paths=True, writes=True)


def test_reading_ops_and_writing_elsewhere_are_fine(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    check_reach("SELECT * FROM ops.runs", warehouse, allow_paths=False, writes=False)
    check_reach("DELETE FROM gold.customer_curated", warehouse, allow_paths=False, writes=True)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE gold.t USING text LOCATION '/etc'",
        "CREATE TABLE gold.t USING csv OPTIONS (path '/etc/shadow')",
        "LOAD DATA INPATH '/etc/shadow' INTO TABLE gold.t",
        "INSERT OVERWRITE DIRECTORY '/tmp/out' SELECT * FROM gold.customer_curated",
        "INSERT INTO gold.t SELECT * FROM text.`/etc/shadow`",
    ],
)
def test_writes_by_path_need_allow_paths(statement: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--allow-paths"):
        check_reach(statement, str(tmp_path / "wh"), allow_paths=False, writes=True)

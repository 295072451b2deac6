"""Every SQL statement the jobs and the Spark branch of maintenance send, through Spark's own
parser on the JVM (`sessionState().sqlParser().parsePlan`).

Statements only Delta's SQL extension knows (DESCRIBE HISTORY, RESTORE, VACUUM, OPTIMIZE)
are refused by plain Spark's parser, which this test shows; each is then checked against the
syntax delta-spark documents. Running them needs a cluster with delta-spark.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse.app.tables import TABLES
from lakehouse.core.catalog import sql_text
from lakehouse.core.delta_log import SparkSqlLog
from lakehouse.core.merge import delete_statement, merge_statement
from lakehouse.core.ops_tables import RUN_TABLES, RUNS, SUPPRESSION_LIST, WATERMARKS
from tests.helpers import on_classic_spark

pytestmark = pytest.mark.slow

WAREHOUSE = "/data/it's a warehouse"
LOCATION = f"{WAREHOUSE}/silver/customer_trusted"
EVERY_TABLE = (*TABLES, RUNS, RUN_TABLES, WATERMARKS, SUPPRESSION_LIST)


class Recorder:
    """A stand-in session that records the SQL it is sent (for `SparkSqlLog`)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.conf = self

    def set(self, key: str, value: str) -> None:
        pass

    def sql(self, statement: str) -> Any:
        self.sent.append(statement)
        return self

    def collect(self) -> list[Any]:
        return []


def engine_statements() -> list[str]:
    """The statements the jobs send, built by the code that sends them."""
    statements = []
    for table in EVERY_TABLE:
        statements.append(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
        statements.append(table.ddl(WAREHOUSE))
        statements.append(table.ddl(WAREHOUSE, deletion_vectors=True))
        columns = list(table.column_names)
        for flagged in (False, True):
            statements.append(merge_statement(table, columns, "v", flagged=flagged))
        statements.append(merge_statement(table, columns, "v", delete_unmatched=True))
        statements.append(delete_statement(table, "v"))
        column_list = ", ".join(f"`{c}`" for c in columns)
        statements.append(f"INSERT INTO {table.qualified_name} SELECT {column_list} FROM v")
        statements.append(f"INSERT OVERWRITE {table.qualified_name} SELECT {column_list} FROM v")
        statements.append(
            f"ALTER TABLE {table.qualified_name} SET TBLPROPERTIES "
            "('delta.enableDeletionVectors' = 'true')"
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table.qualified_name} USING delta "
            f"LOCATION '{sql_text(table.location(WAREHOUSE))}'"
        )
        statements.append(f"DESCRIBE TABLE EXTENDED {table.qualified_name}")
        statements.append(f"DROP TABLE {table.qualified_name}")
        statements.append(f"SELECT * FROM {table.qualified_name} VERSION AS OF 3")
    return statements


def delta_statements() -> list[str]:
    """What `SparkSqlLog` (engine=spark's history, restore, vacuum, compaction) sends."""
    recorder = Recorder()
    log = SparkSqlLog(recorder)  # type: ignore[arg-type]
    log.history(LOCATION)
    log.restore(LOCATION, 4)
    log.vacuum(LOCATION, 168)
    log.vacuum(LOCATION, 0.5)
    log.compact(LOCATION)
    return recorder.sent


def parse(spark: SparkSession, statement: str) -> str:
    with on_classic_spark():
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(statement)
        return str(plan.nodeName())


def test_every_job_statement_parses_on_spark(classic_spark: SparkSession) -> None:
    kinds = {parse(classic_spark, statement) for statement in engine_statements()}
    assert {"MergeIntoTable", "CreateTable", "InsertIntoStatement"} <= kinds


# delta-spark's grammar (DeltaSqlBase.g4) for the statements its extension adds, as documented
# ("Table utility commands"): a table is a name or delta.`path`.
TABLE = r"(?:delta\.`(?:[^`]|``)+`|[\w.]+)"
DELTA_SYNTAX = {
    "DESCRIBE HISTORY": rf"DESCRIBE HISTORY {TABLE}(?: LIMIT \d+)?",
    "RESTORE": rf"RESTORE (?:TABLE )?{TABLE} (?:TO )?(?:VERSION AS OF \d+|TIMESTAMP AS OF .+)",
    "VACUUM": rf"VACUUM {TABLE}(?: RETAIN \d+(?:\.\d+)? HOURS)?(?: DRY RUN)?",
    "OPTIMIZE": rf"OPTIMIZE {TABLE}(?: WHERE .+)?(?: ZORDER BY \(.+\))?",
}


def test_delta_only_statements_need_the_extension_and_follow_its_syntax(
    classic_spark: SparkSession,
) -> None:
    sent = delta_statements()
    assert len(sent) == 5
    for statement in sent:
        kind = next(k for k in DELTA_SYNTAX if statement.startswith(k))
        assert re.fullmatch(DELTA_SYNTAX[kind], statement), statement
        if kind == "DESCRIBE HISTORY":
            # Plain Spark misreads it as DESCRIBE of a column of a table named `HISTORY`: only
            # Delta's extension, whose parser goes first, reads it as the table's history.
            assert parse(classic_spark, statement) == "DescribeColumn"
            continue
        # Plain Spark's parser does not know it: only a session with delta-spark runs it.
        with pytest.raises(Exception, match=r"PARSE_SYNTAX_ERROR|ParseException|mismatched"):
            parse(classic_spark, statement)

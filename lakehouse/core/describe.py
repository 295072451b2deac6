"""`DESCRIBE [TABLE] [EXTENDED|FORMATTED] <table>` answered from the table's schema.

Sail parses only some DESCRIBE forms and answers `DESCRIBE TABLE t` with no rows, while the
CLI's hints recommend `DESCRIBE <table>` for a table's columns. So `lakehouse sql` answers the
plain forms itself, the same on every engine: one row per column (`col_name, data_type,
comment`, Spark's columns), read from the schema of `SELECT * FROM <table>` — which `--as-of`
pins like any query, so a DESCRIBE of the past shows the columns the table had then.
Other forms (a partition, a column, a query, `DESCRIBE HISTORY`) go to the engine as written.
"""

from __future__ import annotations

import sqlglot
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakehouse.core.statements import DIALECT, quiet_parser

DESCRIBE_COLUMNS = StructType(
    [
        StructField("col_name", StringType()),
        StructField("data_type", StringType()),
        StructField("comment", StringType()),
    ]
)
_STYLES = (None, "EXTENDED", "FORMATTED")


def described_query(text: str) -> str | None:
    """`SELECT * FROM <table>` for a plain DESCRIBE of one table; None for anything else."""
    try:
        with quiet_parser():
            trees = [tree for tree in sqlglot.parse(text, read=DIALECT) if tree is not None]
    except SqlglotError:
        return None
    if len(trees) != 1 or not isinstance(trees[0], exp.Describe):
        return None
    tree = trees[0]
    table = tree.this
    kind = str(tree.args.get("kind") or "TABLE").upper()
    style = tree.args.get("style")
    if (
        not isinstance(table, exp.Table)
        or isinstance(table.this, exp.Func)
        or kind != "TABLE"
        or (str(style).upper() if style else None) not in _STYLES
        or any(tree.args.get(key) for key in ("partition", "expressions", "properties", "format"))
    ):
        return None
    return f"SELECT * FROM {table.sql(dialect=DIALECT)}"


def describe_rows(spark: SparkSession, table: DataFrame) -> DataFrame:
    """One row per column of `table`: name, type (Spark's spelling), comment."""
    rows = [
        (field.name, field.dataType.simpleString(), field.metadata.get("comment"))
        for field in table.schema.fields
    ]
    return spark.createDataFrame(rows, DESCRIBE_COLUMNS)

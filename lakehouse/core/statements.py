"""What a SQL text asks the engine to do: only read, or also write.

`lakehouse sql` runs a statement that writes only when told to (`--allow-writes`), under the
warehouse lock and with a run-log entry. The decision parses the text with sqlglot (Spark
dialect); it never pattern-matches. It fails safe: a statement is read-only only when every
statement in the text is a query, a DESCRIBE, a SHOW or an EXPLAIN of a query, with no write
nested anywhere (a CTE feeding an INSERT, `SELECT ... INTO`). Anything sqlglot cannot parse, or
parses only as an opaque command (VACUUM, OPTIMIZE, RESTORE, MSCK, ...), counts as a write.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

DIALECT = "spark"

# Statement roots that only read. Every other root (INSERT, MERGE, CREATE, SET, CACHE, USE,
# an unparsed command, ...) is treated as a write.
_READING_ROOTS: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.SetOperation,  # UNION, INTERSECT, EXCEPT
    exp.Subquery,
    exp.Values,
    exp.Describe,
)
# sqlglot keeps these Spark statements as opaque commands; they only read.
_READING_COMMANDS = ("SHOW",)
_EXPLAIN_MODES = ("EXTENDED", "FORMATTED", "CODEGEN", "COST")
# Nodes that make a statement write wherever they appear inside it.
_WRITING_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DML",  # INSERT is DDL in sqlglot; UPDATE, DELETE, MERGE, COPY are DML
        "DDL",  # CREATE, INSERT
        "Drop",
        "Alter",
        "TruncateTable",
        "LoadData",
        "Set",
        "Cache",
        "Uncache",
        "Refresh",
        "Grant",
        "Revoke",
        "Analyze",
        "Use",
        "Command",
        "Transaction",
        "Commit",
        "Rollback",
    )
    if hasattr(exp, name)
)


@dataclass(frozen=True)
class Statements:
    """A SQL text as parsed: how many statements, their kinds, the tables they name."""

    text: str
    kinds: tuple[str, ...]  # "SELECT", "DELETE", "CREATE TABLE", "VACUUM", "UNPARSED", ...
    tables: tuple[str, ...]  # as written: "gold.customer_curated"
    read_only: bool
    # Why the parser could not read the text (the text then counts as a write).
    parse_error: str | None = None

    @property
    def count(self) -> int:
        return len(self.kinds)

    @property
    def digest(self) -> str:
        """Identifies the text without holding it (a WHERE clause may name a person)."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def summary(self) -> str:
        """Kinds, tables and digest: what the run log records of a statement."""
        tables = f" {','.join(self.tables)}" if self.tables else ""
        return f"{'; '.join(self.kinds)}{tables} (statement sha256 {self.digest})"


def parse_statements(text: str) -> Statements:
    """Parse `text` (one or more statements) and decide whether running it only reads."""
    try:
        with quiet_parser():
            parsed = [tree for tree in sqlglot.parse(text, read=DIALECT) if tree is not None]
    except SqlglotError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return Statements(text, ("UNPARSED",), (), read_only=False, parse_error=first)
    # Names a WITH clause defines are not tables.
    defined = {cte.alias_or_name for tree in parsed for cte in tree.find_all(exp.CTE)}
    named = {_table_name(table) for tree in parsed for table in tree.find_all(exp.Table)}
    tables = sorted(named - defined - {""})
    return Statements(
        text,
        tuple(_kind(tree) for tree in parsed),
        tuple(tables),
        read_only=bool(parsed) and all(_reads_only(tree) for tree in parsed),
    )


def is_read_only(text: str) -> bool:
    return parse_statements(text).read_only


@contextmanager
def quiet_parser() -> Iterator[None]:
    # sqlglot warns when it keeps a statement as an opaque command: here that is an answer.
    parser_log = logging.getLogger("sqlglot")
    level = parser_log.level
    parser_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        parser_log.setLevel(level)


def _reads_only(tree: exp.Expr) -> bool:
    if isinstance(tree, exp.Command):
        name = str(tree.this).upper()
        if name == "EXPLAIN":
            # Spark's EXPLAIN only plans; still, explain only what would be allowed to run.
            return is_read_only(_command_text(tree))
        return name in _READING_COMMANDS
    if not isinstance(tree, _READING_ROOTS):
        return False
    for node in tree.walk():
        if isinstance(node, _WRITING_NODES):
            return False
        if isinstance(node, exp.Select) and node.args.get("into"):
            return False  # SELECT ... INTO creates a table
    return True


def _kind(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    kind = tree.key.upper()
    detail = tree.args.get("kind")
    return f"{kind} {str(detail).upper()}" if isinstance(detail, str) and detail else kind


def _command_text(tree: exp.Command) -> str:
    """The statement an EXPLAIN command explains, without EXPLAIN's own modifiers."""
    rest = tree.expression
    text = str(rest.this) if isinstance(rest, exp.Literal) else str(rest or "")
    first, _, remainder = text.strip().partition(" ")
    return remainder if first.upper() in _EXPLAIN_MODES else text


def _table_name(table: exp.Table) -> str:
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)

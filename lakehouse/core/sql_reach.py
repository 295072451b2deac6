"""What a SQL text reaches besides the catalog's tables: files by path, the secrets, `ops.*`.

`lakehouse sql` is for the warehouse's tables. Spark SQL also reads any file the engine's
process can open, by path (`text.\\`/etc/shadow\\``, `csv.\\`s3://bucket/key\\``, a `LOCATION`, a
table function), and that process holds the warehouse's own secret
(`<warehouse>/_secrets/pseudonym_salt`). So:

* a path reference is refused unless `--allow-paths` is given;
* a path that reaches the secrets folder (inside it, the folder itself, a folder above it, or
  a glob that could match it) is refused always;
* a statement that writes is refused always when it names an `ops` table or schema, or a path
  inside `<warehouse>/ops`: the run log and the suppression list change only through the
  commands that own them (`run`, `erase`, ...), which keep them consistent.

Like `lakehouse.core.statements`, this parses (sqlglot) and fails safe: an opaque command or a
text the parser cannot read is judged by its tokens, and any token that could be a path counts
as one.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from lakehouse.core.errors import UsageError
from lakehouse.core.statements import DIALECT, quiet_parser
from lakehouse.core.storage import join

SECRETS_FOLDER = "_secrets"
OPS_SCHEMA = "ops"

# `<format>.\`<path>\`` reads a file in Spark SQL. Lower case; Sail accepts more than Spark does
# (arrow), and a name the engine does not know is only "table not found", so the list is broad.
FILE_FORMATS = frozenset(
    {
        "arrow",
        "avro",
        "binaryfile",
        "csv",
        "delta",
        "hudi",
        "iceberg",
        "image",
        "jdbc",
        "json",
        "libsvm",
        "orc",
        "parquet",
        "text",
        "tsv",
        "xml",
    }
)
# Table functions that compute rows and open nothing. Any other function in a FROM clause
# (`read_files(...)`, whatever an engine adds later) may read files: a path reference.
COMPUTING_FUNCTIONS = frozenset(
    {
        "range",
        "explode",
        "explode_outer",
        "posexplode",
        "posexplode_outer",
        "inline",
        "inline_outer",
        "json_tuple",
        "stack",
        "sql_keywords",
        "variant_explode",
        "variant_explode_outer",
    }
)
# Functions that call any Java method on classic Spark (some open files): refused like paths.
JAVA_CALLS = frozenset({"reflect", "java_method", "try_reflect"})
_GLOB = "*?[{"
_PATH_MARKS = ("/", "\\", ":")


@dataclass(frozen=True)
class PathReference:
    """A place the text names by path: as written, and the path strings in it."""

    shown: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Reach:
    """The path references of a SQL text, and the schemas it names (lower case)."""

    references: tuple[PathReference, ...]
    schemas: frozenset[str]


def sql_reach(text: str) -> Reach:
    """Path references and named schemas of `text`, parsed; by tokens where parsing cannot."""
    try:
        with quiet_parser():
            trees = [tree for tree in sqlglot.parse(text, read=DIALECT) if tree is not None]
    except SqlglotError:
        return _token_reach(text)
    references: list[PathReference] = []
    schemas: set[str] = set()
    for tree in trees:
        if isinstance(tree, exp.Command):
            opaque = _token_reach(_command_rest(tree))
            references.extend(opaque.references)
            schemas.update(opaque.schemas)
            continue
        references.extend(_tree_references(tree))
        schemas.update(_tree_schemas(tree))
    return Reach(tuple(references), frozenset(schemas))


def check_reach(text: str, warehouse: str, *, allow_paths: bool, writes: bool) -> None:
    """Refuse (UsageError, before the engine runs it) what `text` must not reach."""
    reach = sql_reach(text)
    secrets = join(warehouse, SECRETS_FOLDER)
    for reference in reach.references:
        if any(_overlaps(path, secrets) for path in reference.paths):
            raise UsageError(
                f"{reference.shown} reaches {secrets}, the warehouse's secrets: `lakehouse sql` "
                "never reads them, whatever its options"
            )
    if writes and OPS_SCHEMA in reach.schemas:
        raise UsageError(
            f"the statement writes and names the {OPS_SCHEMA} schema: the run log and the "
            "suppression list change only through their commands (`run`, `erase`, "
            "`quarantine replay`, ...), not through `lakehouse sql`, even with --allow-writes"
        )
    ops = join(warehouse, OPS_SCHEMA)
    for reference in reach.references:
        if writes and any(_inside(path, ops) for path in reference.paths):
            raise UsageError(
                f"{reference.shown} is inside {ops}: the run log and the suppression list "
                "change only through their commands, not through `lakehouse sql`"
            )
    if reach.references and not allow_paths:
        shown = ", ".join(reference.shown for reference in reach.references[:3])
        raise UsageError(
            f"{shown} reads or writes files by path, and `lakehouse sql` reaches only the "
            "warehouse's tables (`lakehouse tables` lists them) unless given --allow-paths"
        )


def _tree_references(tree: exp.Expr) -> list[PathReference]:
    found = []
    for node in tree.walk():
        if isinstance(node, exp.Table):
            reference = _table_reference(node)
            if reference:
                found.append(reference)
        elif isinstance(node, exp.LocationProperty | exp.Directory):
            found.append(_literal_reference(node))
        elif isinstance(node, exp.LoadData):
            found.append(_literal_reference(node, node.args.get("inpath")))
        elif isinstance(node, exp.Property) and str(node.name).lower() == "path":
            found.append(_literal_reference(node))
        elif isinstance(node, exp.Anonymous) and str(node.name).lower() in JAVA_CALLS:
            strings = tuple(str(s.this) for s in node.find_all(exp.Literal) if s.is_string)
            found.append(PathReference(f"{str(node.name).lower()}(...)", strings))
    return found


def _table_reference(table: exp.Table) -> PathReference | None:
    if isinstance(table.this, exp.Func):
        name = table.this.sql_name().lower()
        if isinstance(table.this, exp.Anonymous):
            name = str(table.this.name).lower()
        if name in COMPUTING_FUNCTIONS:
            return None
        strings = tuple(str(s.this) for s in table.this.find_all(exp.Literal) if s.is_string)
        return PathReference(f"table function {name}(...)", strings)
    parts = [str(part.name) for part in table.parts]
    qualifiers = [part.lower() for part in parts[:-1]]
    if any(mark in part for part in parts for mark in _PATH_MARKS) or (
        FILE_FORMATS & set(qualifiers)
    ):
        return PathReference(f"{'.'.join(parts[:-1])}.`{parts[-1]}`", (parts[-1],))
    return None


def _literal_reference(node: exp.Expr, value: exp.Expr | None = None) -> PathReference:
    source = value if value is not None else node
    strings = tuple(str(s.this) for s in source.find_all(exp.Literal) if s.is_string)
    return PathReference(node.sql(dialect=DIALECT), strings)


def _tree_schemas(tree: exp.Expr) -> set[str]:
    schemas = set()
    for table in tree.find_all(exp.Table):
        if table.args.get("db"):
            schemas.add(str(table.db).lower())
        elif table.name and isinstance(tree, exp.Drop | exp.Create | exp.Alter):
            kind = str(tree.args.get("kind") or "").upper()
            if kind in ("SCHEMA", "DATABASE", "NAMESPACE"):
                schemas.add(str(table.name).lower())
    return schemas


def _command_rest(tree: exp.Command) -> str:
    rest = tree.expression
    return str(rest.this) if isinstance(rest, exp.Literal) else str(rest or "")


def _token_reach(text: str) -> Reach:
    """What an opaque text may reach, judged by its tokens (every name could be a schema)."""
    try:
        tokens = sqlglot.tokenize(text, read=DIALECT)
    except SqlglotError:
        # Not even tokens: every word counts, so nothing protected can hide in it.
        words = text.replace("`", " ").replace("'", " ").replace('"', " ").split()
        pieces = {piece.lower() for word in words for piece in word.split(".")}
        paths = tuple(word for word in words if any(mark in word for mark in _PATH_MARKS))
        return Reach(tuple(PathReference(path, (path,)) for path in paths), frozenset(pieces))
    references = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _path_like(token) or (
            token.text.lower() in FILE_FORMATS
            and following is not None
            and following.token_type == TokenType.DOT
        ):
            references.append(PathReference(token.text, (token.text,)))
    names = {token.text.lower() for token in tokens if token.token_type != TokenType.STRING}
    return Reach(tuple(references), frozenset(names))


def _path_like(token: Token) -> bool:
    return token.token_type in (TokenType.STRING, TokenType.IDENTIFIER, TokenType.VAR) and any(
        mark in token.text for mark in _PATH_MARKS
    )


def _overlaps(path: str, folder: str) -> bool:
    """Whether reading `path` could open a file in `folder`: inside it, it, or above it."""
    where = _comparable(_before_glob(path))
    target = _comparable(folder)
    if where is None or target is None:
        return False
    return _within(where, target) or _within(target, where)


def _inside(path: str, folder: str) -> bool:
    where, target = _comparable(_before_glob(path)), _comparable(folder)
    return where is not None and target is not None and _within(where, target)


def _before_glob(path: str) -> str:
    """A glob's fixed folder (`/wh/_sec*/x` -> `/wh`): what it may match lies below it."""
    cut = min((path.find(char) for char in _GLOB if char in path), default=-1)
    if cut < 0:
        return path
    return path[:cut].rsplit("/", 1)[0] or "/"


def _comparable(path: str) -> tuple[str, str] | None:
    """(store, absolute normalised path): local paths resolved (symlinks, `..`, relative);
    `s3a://` and `s3n://` are `s3://`; percent escapes decoded, as the engine decodes them."""
    if path.startswith("file:"):
        path = unquote(urlsplit(path).path) or "/"
    parts = urlsplit(path)
    if len(parts.scheme) > 1 and parts.netloc:
        scheme = {"s3a": "s3", "s3n": "s3"}.get(parts.scheme.lower(), parts.scheme.lower())
        clean = posixpath.normpath("/" + unquote(parts.path).lstrip("/"))
        return f"{scheme}://{parts.netloc.lower()}", clean
    if len(parts.scheme) > 1:
        return None  # some other store without a host: not where the warehouse can be
    return "", os.path.realpath(os.path.expanduser(path))


def _within(path: tuple[str, str], folder: tuple[str, str]) -> bool:
    if path[0] != folder[0]:
        return False
    return path[1] == folder[1] or path[1].startswith(folder[1].rstrip("/") + "/")

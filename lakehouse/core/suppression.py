"""The suppression list: erased people, by digest, kept out of every later delivery.

An erasure deletes a person's rows, but their records are still in the landing files (the
lakehouse does not own those) and may be delivered again, or a file holding them may change
and so count as a new delivery. Bronze therefore drops, before anything is written, every
record, reading and quarantined line that names an email whose digest is on the list.

The digest is of the canonical email (`lakehouse.core.identity`: invisible characters
removed, NFKC's ASCII forms, trimmed, lower-cased): the list holds no email, and the same
person matches however an export spells them. It is the digest the run log uses to name an
erasure.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.core.identity import SPACE, canonical_text, digest_of

# Control characters, which no address holds, and which a JSON line escapes with `\` (so
# `a@x.com\u0000`, refused and quarantined, still names `a@x.com` to the second pattern).
CONTROLS = r"\x{0}-\x{1f}\x{7f}"
# Emails inside a raw line that did not parse, in the line's canonical spelling (so U+FF20 is
# `@` and a zero-width space is gone): read as an address may be spelled (which allows `'`,
# `;`, `(` ...), and read again stopping at such punctuation (`user=a@x.com;x=1`). Spaces are
# spelled out (`SPACE`): `\s` means other characters on the JVM than on Sail.
_NOT_IN_EMAIL = rf"@{SPACE}\"{{}}\[\],:"
_NOT_IN_PLAIN_EMAIL = rf"{_NOT_IN_EMAIL}{CONTROLS}\\';<>()="
EMAIL_IN_TEXT = (
    rf"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+",
    rf"[^{_NOT_IN_PLAIN_EMAIL}]+@[^{_NOT_IN_PLAIN_EMAIL}]+",
)
Transform = Callable[[DataFrame], DataFrame]


def without_suppressed(column: str, suppressed: DataFrame) -> Transform:
    """Rows whose email `column` is not on the list (`suppressed`: its `digest` column)."""

    def transform(rows: DataFrame) -> DataFrame:
        digests = F.broadcast(suppressed.select(F.col("digest").alias("_suppressed")))
        return rows.join(digests, digest_of(F.col(column)) == F.col("_suppressed"), "left_anti")

    return transform


def without_suppressed_text(column: str, keys: tuple[str, ...], suppressed: DataFrame) -> Transform:
    """Rows (lines that did not parse, unique by `keys`) whose text `column` names no email
    on the list."""

    def transform(rows: DataFrame) -> DataFrame:
        # Exploded rather than a lambda over the array: the embedded engine cannot resolve a
        # table's columns inside a lambda ("No field named ...").
        tokens = rows.select(*keys, F.explode(emails_in(column)).alias("_email"))
        digests = F.broadcast(suppressed.select(F.col("digest").alias("_suppressed")))
        named = tokens.join(
            digests, digest_of(F.col("_email")) == F.col("_suppressed"), "left_semi"
        )
        return rows.join(named.select(*keys).distinct(), list(keys), "left_anti")

    return transform


def emails_in(column: str) -> Column:
    """The emails a text names, canonical (the patterns admit no surrounding spaces; a token
    that is no address has no digest and equals no canonical email)."""
    text = canonical_text(F.col(column))
    found = [F.regexp_extract_all(text, F.lit(pattern), 0) for pattern in EMAIL_IN_TEXT]
    return F.array_union(*found)

"""Who a record is about: one canonical spelling of an email, and the digest that names a person.

Every place that matches people uses `canonical_email` / `email_identity` (bronze's check of an
email, silver's joins, erasure, the suppression list, the consent audit), so `A@X.com `,
`a@x.com`, `a@x.com` + a zero-width space and `a` U+FF20 `x.com` (a full-width at sign) are one
customer everywhere. `email_digest` names a person where the email must not be stored (the run
log, the suppression list).

The canonical form is plain printable ASCII: invisible format characters (Unicode category Cf:
zero-width spaces, U+FEFF, direction marks) are removed, surrounding whitespace trimmed, each
character whose NFKC form is one printable ASCII character replaced by it (full-width U+FF20 ->
`@`, U+FF21 -> `A`), and the result lower-cased. An email that is not then an address (one `@`
with something on each side; no space, control, other non-ASCII character or JSON punctuation;
at most 254 characters) has no canonical form and names nobody: bronze quarantines it. Refusing
what stays non-ASCII is what lets the engines agree: neither has Unicode normalisation, and a
character-by-character mapping is exactly NFKC only when every character maps to ASCII (nothing
is left to compose). It also keeps look-alike letters (a Cyrillic U+0435 for `e`) from spelling
an erased person anew.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

DIGEST_PREFIX = "sha256:"
SHIPPED_TABLES = "unicode_tables.json"
_DIGEST_CHARS = 16
# RFC 5321's limit on a forward path, the longest address any mail system delivers to.
MAX_EMAIL_LENGTH = 254


# Unicode's White_Space characters: what `\s` admits around an email on the embedded engine.
# Trimming this list (not a regular expression) is 2-3 times faster over millions of
# readings, and the same on every engine and in Python.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# The same characters for a regular expression's character class (`[^@{SPACE}]`). Patterns say
# this, never `\s`: `\s` is ASCII whitespace on the JVM (classic Spark) but Unicode's on the
# embedded engine, so `a\u00a0b@x.com` would be an email on one engine and not on the other.
SPACE = WHITESPACE


def _codes(predicate: Callable[[str], bool]) -> list[int]:
    return [code for code in range(sys.maxunicode + 1) if predicate(chr(code))]


def _decomposable(codes: range) -> list[str]:
    """The characters among `codes` with a decomposition mapping, the only ones NFKC can
    change (a Hangul syllable, decomposed by rule, composes back to itself; a surrogate has
    none). Asking for the mapping is cheap; normalising every code point took half a second
    of every run that checks an email."""
    return list(filter(unicodedata.decomposition, map(chr, codes)))


def _ranges(codes: list[int]) -> str:
    """A regular expression's character class body of `codes`, as `\\x{..}` escapes (the same
    syntax on the JVM and on the embedded engine's Rust engine, and no invisible character in
    the pattern)."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        parts.append(f"\\x{{{start:x}}}" + (f"-\\x{{{previous:x}}}" if previous > start else ""))
        start = previous = code
    return "".join(parts)


@dataclass(frozen=True)
class UnicodeTables:
    format_characters: str  # Unicode's format characters (category Cf)
    format_pattern: str  # the same as a regular expression's character class
    folded_from: str  # every non-ASCII character whose NFKC form is one printable ASCII
    folded_to: str  # character other than the space, and that character
    fold: dict[int, str]  # the same for `str.translate`


@functools.cache
def unicode_tables() -> UnicodeTables:
    """The tables from this Python's Unicode data, spelled out rather than `\\p{Cf}` (the
    engines' regular expressions carry Unicode tables of their own versions).

    Read from the copy shipped beside this module when it was made from the same Unicode
    version as this Python's (`python -m lakehouse.core.identity` writes it; a test fails when
    it is stale), built otherwise: a scan of every code point takes half a second, which every
    run that matches an email would pay."""
    shipped = json.loads(resources.files("lakehouse.core").joinpath(SHIPPED_TABLES).read_text())
    if shipped["unidata_version"] != unicodedata.unidata_version:
        return _tables(*_characters())
    return _tables(shipped["format_characters"], shipped["folded_from"], shipped["folded_to"])


def _characters() -> tuple[str, str, str]:
    """The format characters, and the non-ASCII characters folded to ASCII with their folds,
    from this Python's Unicode data."""
    format_codes = _codes(lambda c: unicodedata.category(c) == "Cf")
    as_ascii = {
        character: form
        for character in _decomposable(range(0x80, sys.maxunicode + 1))
        if len(form := unicodedata.normalize("NFKC", character)) == 1 and "!" <= form <= "~"
    }
    return "".join(map(chr, format_codes)), "".join(as_ascii), "".join(as_ascii.values())


def _tables(format_characters: str, folded_from: str, folded_to: str) -> UnicodeTables:
    return UnicodeTables(
        format_characters=format_characters,
        format_pattern=f"[{_ranges([ord(c) for c in format_characters])}]",
        folded_from=folded_from,
        folded_to=folded_to,
        fold=str.maketrans(dict(zip(folded_from, folded_to, strict=True))),
    )


def shipped_tables_text() -> str:
    """The content of the shipped tables file, built from this Python's Unicode data."""
    format_characters, folded_from, folded_to = _characters()
    tables = {
        "unidata_version": unicodedata.unidata_version,
        "format_characters": format_characters,
        "folded_from": folded_from,
        "folded_to": folded_to,
    }
    return json.dumps(tables, indent=1) + "\n"


# What an address may hold besides its one `@`: printable ASCII but the space and the JSON
# punctuation that delimits an email in a line (`"{}[],:`), as bronze always refused.
ADDRESS_CHARACTERS = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '@"{}[],:')
_ADDRESS_CLASS = f"[{_ranges([ord(c) for c in ADDRESS_CHARACTERS])}]"
ADDRESS_PATTERN = f"^{_ADDRESS_CLASS}+@{_ADDRESS_CLASS}+$"


def canonical_email(email: str) -> str | None:
    """The one spelling of `email` (see the module's docstring), or None: not an address."""
    invisible = dict.fromkeys(map(ord, unicode_tables().format_characters))
    spelt = _spelt(email.translate(invisible).strip(WHITESPACE))
    local, at, domain = spelt.partition("@")
    valid = (
        at
        and local
        and domain
        and len(spelt) <= MAX_EMAIL_LENGTH
        and all(c in ADDRESS_CHARACTERS for c in local + domain)
    )
    return spelt if valid else None


def _spelt(email: str) -> str:
    return email.translate(unicode_tables().fold).lower()


def email_identity(email: Column) -> Column:
    """`canonical_email` as a column expression (NULL: not an address).

    Almost every email is ASCII already: it is only trimmed and lower-cased, and the removal
    of format characters and the mapping to ASCII (a regular expression and a translation
    with a thousand characters) run on the rest alone.
    """
    tables = unicode_tables()
    ascii_only = F.length(email) == F.octet_length(email)
    spelt = F.when(ascii_only, F.lower(F.trim(email, F.lit(WHITESPACE)))).otherwise(
        F.lower(
            F.translate(
                F.trim(F.regexp_replace(email, tables.format_pattern, ""), F.lit(WHITESPACE)),
                tables.folded_from,
                tables.folded_to,
            )
        )
    )
    valid = spelt.rlike(ADDRESS_PATTERN) & (F.length(spelt) <= MAX_EMAIL_LENGTH)
    return F.when(valid, spelt)


def may_spell_one_of(email: Column, canonical: list[str]) -> Column:
    """True for every text whose canonical form is one of `canonical` (and for a few others).

    A filter by value that narrows millions of texts before `email_identity`, which costs ten
    times as much per row: an ASCII text with no whitespace or control character at either end
    is its own canonical form once lower-cased, so only the rest (rare) is kept unexamined.
    """
    plain = F.lower(email).isin(canonical)
    unusual = (
        (F.length(email) != F.octet_length(email))
        | (F.substring(email, 1, 1) < "!")
        | (F.substring(email, -1, 1) < "!")
    )
    return plain | unusual


def canonical_text(text: Column) -> Column:
    """A text (a raw line) spelled as emails are: format characters removed, characters mapped
    to their ASCII NFKC form, lower-cased; so the emails it names read canonically."""
    tables = unicode_tables()
    unformatted = F.regexp_replace(text, tables.format_pattern, "")
    return F.lower(F.translate(unformatted, tables.folded_from, tables.folded_to))


def email_digest(email: str) -> str:
    """How the run log and the suppression list name a person (never the email itself).

    Raises ValueError for a text that is not an address (it names nobody)."""
    canonical = canonical_email(email)
    if canonical is None:
        raise ValueError("not an email address (see lakehouse.core.identity)")
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return DIGEST_PREFIX + digest[:_DIGEST_CHARS]


def digest_of(email: Column) -> Column:
    """`email_digest` as a column expression (NULL: not an address)."""
    digest = F.substring(F.sha2(email_identity(email), 256), 1, _DIGEST_CHARS)
    return F.concat(F.lit(DIGEST_PREFIX), digest)


if __name__ == "__main__":  # python -m lakehouse.core.identity: refresh the shipped tables
    Path(__file__).with_name(SHIPPED_TABLES).write_text(shipped_tables_text())

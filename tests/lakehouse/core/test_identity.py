"""One spelling of an email: the same in Python and on the engines, for any Unicode text."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.core import identity as identity_module
from lakehouse.core.identity import (
    MAX_EMAIL_LENGTH,
    WHITESPACE,
    canonical_email,
    email_digest,
    email_identity,
    may_spell_one_of,
    unicode_tables,
)
from tests.helpers import on_classic_spark

# Around an email: every Unicode whitespace character, and invisible characters that are not
# whitespace (a zero-width space, U+FEFF, a direction mark): all are not part of the address.
AROUND = [*WHITESPACE, "\u200b", "\ufeff", "\u200e", "\u2060", ""]
# Characters that decide an email's spelling: its punctuation, spaces, format and control
# characters, characters NFKC maps to ASCII (full-width, mathematical, ligatures) or to more
# than one character, look-alikes and combining marks.
TRICKY = (
    "@.aAzZ09_+-\"',:;[]{}\\ \x00\x1f\x7f"
    + WHITESPACE
    + "\u200b\u200c\u200d\ufeff\u00ad\u2060\U000e0041"
    + "\uff20\ufe6b\uff21\uff41\uff0e\uff10\U0001d400\u2460\u212a\u2126"
    + "\ufb01\u00bd\u2474\u0430\u0435\u0301\u0130\u00df\u03a3"
)
texts = st.text(st.sampled_from(TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=24)
emails = st.builds(
    lambda local, domain, before, after: f"{before}{local}@{domain}{after}",
    texts,
    texts,
    texts,
    texts,
)
candidates = emails | texts


def nfkc_spec(email: str) -> str:
    """The canonical form as the issue states it: NFKC without format characters, trimmed,
    lower-cased."""
    visible = "".join(c for c in email if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", visible).strip(WHITESPACE).lower()


@given(candidates)
@settings(max_examples=3000, deadline=None)
def test_a_canonical_email_is_the_nfkc_form_in_printable_ascii(email: str) -> None:
    canonical = canonical_email(email)
    if canonical is None:
        return
    assert canonical == nfkc_spec(email)
    assert canonical.isascii() and canonical.isprintable() and " " not in canonical
    assert canonical.count("@") == 1 and len(canonical) <= MAX_EMAIL_LENGTH
    assert canonical_email(canonical) == canonical


@given(emails)
@settings(max_examples=500, deadline=None)
def test_invisible_characters_spaces_and_case_are_never_part_of_an_address(email: str) -> None:
    """Decorated with any format character or whitespace, an address is the same address."""
    canonical = canonical_email(email)
    if canonical is None:
        return
    decorated = f"\ufeff {email.upper()}\u200b\u3000"
    for c in unicode_tables().format_characters[::7]:
        assert canonical_email(decorated.replace("@", f"{c}@")) == canonical
    assert canonical_email(decorated) == canonical


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("Ann.Lee@Example.COM", "ann.lee@example.com"),
        ("ann.lee@example.com\u200b", "ann.lee@example.com"),
        ("\ufeffann.lee@example.com", "ann.lee@example.com"),
        ("ann\u00ad.lee@example.com", "ann.lee@example.com"),
        ("ann.lee\uff20example.com", "ann.lee@example.com"),
        ("\uff21nn.lee@\U0001d41eexample.com", "ann.lee@eexample.com"),
        ("\u3000ann.lee@example.com\u00a0", "ann.lee@example.com"),
        ("ann\x00@example.com", None),
        ("ann lee@example.com", None),
        ("ann@", None),
        ("@example.com", None),
        ("a@b@example.com", None),
        ("z\u0435lda@example.com", None),  # a Cyrillic letter: refused, not a new person
        ("\ufb01@example.com", None),  # NFKC makes two letters of one
        ("caf\u00e9@example.com", None),
        ("x" * 242 + "@example.com", "x" * 242 + "@example.com"),
        ("x" * 243 + "@example.com", None),
        ("\x1fann@example.com", None),
    ],
)
def test_canonical_form(email: str, canonical: str | None) -> None:
    assert canonical_email(email) == canonical


def test_digests_of_ascii_emails_are_unchanged() -> None:
    """The suppression list holds digests of the trimmed, lower-cased email: they still match."""
    stored = "sha256:" + hashlib.sha256(b"zelda.quist@example.com").hexdigest()[:16]
    assert email_digest(" Zelda.Quist@Example.com ") == stored
    assert email_digest("zelda.quist\uff20example.com\u200b") == email_digest(
        "zelda.quist@example.com"
    )


def test_the_whitespace_list_is_what_the_engines_pattern_calls_whitespace(
    spark: SparkSession,
) -> None:
    candidates = [chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) != "Cs"]
    frame = spark.createDataFrame([(c,) for c in candidates], "c STRING")
    matched = {row[0] for row in frame.where(F.col("c").rlike(r"^\s$")).collect()}
    assert matched == set(WHITESPACE)


def on_engine(spark: SparkSession, emails: list[str]) -> list[tuple[str, str | None]]:
    frame = spark.createDataFrame([(e,) for e in emails], "email STRING")
    return frame.select("email", email_identity(F.col("email"))).collect()


def test_python_and_the_engine_spell_every_email_alike(spark: SparkSession) -> None:
    emails = [f"{before}Ann.Lee@Example.COM{after}" for before in AROUND for after in AROUND]
    emails += ["  a\tb@x  ", "\u3000\u3000", "", "A@B", "\x1cA@B", "a\uff20b\u200b"]
    rows = on_engine(spark, emails)
    assert len(rows) == len(emails)
    for email, identity in rows:
        assert identity == canonical_email(email), repr(email)
    assert {identity for email, identity in rows if "Ann" in email} == {"ann.lee@example.com"}


@given(st.lists(candidates, min_size=1, max_size=300))
@settings(max_examples=25, deadline=None)
def test_the_engine_spells_generated_unicode_as_python_does(
    spark: SparkSession, emails: list[str]
) -> None:
    for email, identity in on_engine(spark, emails):
        assert identity == canonical_email(email), repr(email)


@given(st.lists(candidates, min_size=1, max_size=300))
@settings(max_examples=25, deadline=None)
def test_the_filter_by_value_keeps_every_spelling_of_the_emails_it_names(
    spark: SparkSession, texts: list[str]
) -> None:
    """`may_spell_one_of` narrows history before it is spelt: it must never drop a text that
    spells one of the emails, however it is decorated."""
    decorated = [
        f"{around}{text.upper()}{around}" for text in texts for around in ("", " ", "\u200b")
    ]
    named = sorted({c for text in decorated if (c := canonical_email(text)) is not None})
    if not named:
        return
    frame = spark.createDataFrame([(t,) for t in decorated], "email STRING")
    kept = {row[0] for row in frame.where(may_spell_one_of(F.col("email"), named)).collect()}
    for text in decorated:
        if canonical_email(text) in named:
            assert text in kept, repr(text)


def test_the_filter_by_value_passes_over_other_plain_emails(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("Bo@X.com",), ("ann@x.com",), (" ann@x.com",)], "e STRING")
    kept = frame.where(may_spell_one_of(F.col("e"), ["bo@x.com"])).collect()
    assert sorted(row[0] for row in kept) == [" ann@x.com", "Bo@X.com"]


def test_every_character_is_spelt_alike_on_the_engine(spark: SparkSession) -> None:
    """Each code point inside an address (the mapping and the format characters are tables of
    a thousand characters: one wrong entry would show here)."""
    codes = [c for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cs", "Cn", "Co")]
    emails = [f"a{chr(code)}b@x.com" for code in codes]
    for email, identity in on_engine(spark, emails):
        assert identity == canonical_email(email), repr(email)


@pytest.mark.slow
def test_classic_spark_spells_every_character_alike(classic_spark: SparkSession) -> None:
    codes = [c for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cs", "Cn", "Co")]
    emails = [f"a{chr(code)}b@x.com" for code in codes]
    emails += [f"{before}Ann.Lee@Example.COM{after}" for before in AROUND for after in AROUND]
    with on_classic_spark():
        rows = on_engine(classic_spark, emails)
    for email, identity in rows:
        assert identity == canonical_email(email), repr(email)


@pytest.mark.slow
@given(st.lists(candidates, min_size=1, max_size=300))
@settings(max_examples=10, deadline=None)
def test_classic_spark_spells_generated_unicode_as_python_does(
    classic_spark: SparkSession, emails: list[str]
) -> None:
    with on_classic_spark():
        rows = on_engine(classic_spark, emails)
    for email, identity in rows:
        assert identity == canonical_email(email), repr(email)


def test_the_shipped_unicode_tables_are_this_pythons_and_used_only_when_they_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shipped = files("lakehouse.core").joinpath(identity_module.SHIPPED_TABLES).read_text()
    if json.loads(shipped)["unidata_version"] == unicodedata.unidata_version:
        assert shipped == identity_module.shipped_tables_text(), (
            "stale: run `python -m lakehouse.core.identity` and commit the file"
        )
    built = identity_module._tables(*identity_module._characters())
    identity_module.unicode_tables.cache_clear()
    try:
        assert identity_module.unicode_tables() == built
        # Another Unicode version (another Python): built from its own data, not read.
        monkeypatch.setattr(identity_module, "_characters", lambda: ("\u200b", "\uff20", "@"))
        monkeypatch.setattr(identity_module.unicodedata, "unidata_version", "0.0.0")
        identity_module.unicode_tables.cache_clear()
        assert identity_module.unicode_tables().folded_from == "\uff20"
    finally:
        identity_module.unicode_tables.cache_clear()

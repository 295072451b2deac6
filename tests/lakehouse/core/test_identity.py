"""One spelling of an email: the same in Python, on the engine, and as bronze's pattern reads it."""

from __future__ import annotations

import unicodedata

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.core.identity import WHITESPACE, email_identity, normalised_email

# Around an email: every Unicode whitespace character, and look-alikes that are not whitespace
# (a zero-width space, the information separators Python's str.isspace counts).
AROUND = [*WHITESPACE, "\u200b", "\x1c", "\x1f", "\ufeff", "x"]


def test_the_whitespace_list_is_what_the_engines_pattern_calls_whitespace(
    spark: SparkSession,
) -> None:
    candidates = [chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) != "Cs"]
    frame = spark.createDataFrame([(c,) for c in candidates], "c STRING")
    matched = {row[0] for row in frame.where(F.col("c").rlike(r"^\s$")).collect()}
    assert matched == set(WHITESPACE)


def test_python_and_the_engine_spell_every_email_alike(spark: SparkSession) -> None:
    emails = [f"{before}Ann.Lee@Example.COM{after}" for before in AROUND for after in AROUND]
    emails += ["  a\tb@x  ", "\u3000\u3000", "", "A@B"]
    frame = spark.createDataFrame([(e,) for e in emails], "email STRING")
    on_engine = frame.select("email", email_identity(F.col("email")).alias("identity"))
    # The expression it replaced, which matched bronze's EMAIL_PATTERN by construction.
    by_pattern = F.lower(F.regexp_replace(F.col("email"), r"^\s+|\s+$", ""))
    rows = on_engine.select("email", "identity", by_pattern.alias("pattern")).collect()
    assert len(rows) == len(emails)
    for email, identity, pattern in rows:
        assert identity == normalised_email(email) == pattern, repr(email)

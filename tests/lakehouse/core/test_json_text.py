"""JSON output is valid JSON and changes no value (see `lakehouse.core.json_text`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from lakehouse.core.json_text import json_text


def test_non_finite_floats_and_decimals_are_strings_that_keep_their_value() -> None:
    document = {
        "nan": float("nan"),
        "inf": [float("inf"), {"down": float("-inf")}],
        "exact": Decimal("12345678901234567890.123456789"),
        "scale": Decimal("1.10"),
        "plain": 2.5,
        "at": datetime(2026, 12, 1, 21, 46, 12, tzinfo=UTC),
        "day": date(2026, 12, 1),
    }

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    assert json.loads(json_text(document), parse_constant=refuse) == {
        "nan": "NaN",
        "inf": ["Infinity", {"down": "-Infinity"}],
        "exact": "12345678901234567890.123456789",
        "scale": "1.10",
        "plain": 2.5,
        "at": "2026-12-01T21:46:12+00:00",
        "day": "2026-12-01",
    }

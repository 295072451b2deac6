"""JSON the way every command prints it: valid JSON, and no value changed on the way.

Python's `json` writes `NaN` and `Infinity` bare, which is not JSON (jq and most parsers stop
there), and a Decimal through `float` loses digits (`DECIMAL(38,18)` holds more than a double).
So a float that is not finite is written as the string `"NaN"`, `"Infinity"` or `"-Infinity"`
(the spellings Spark's and Jackson's readers accept back), and a Decimal as a string of its
exact digits (`"12345678901234567890.123456789"`): a consumer that wants a number converts it
knowing the precision, instead of getting a rounded one silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from lakehouse.core.progress import utc_moment


def json_text(document: object) -> str:
    """`document` as one line of valid JSON (raises if a bare NaN would slip through)."""
    return json.dumps(_finite(document), default=json_value, allow_nan=False)


def json_value(value: object) -> object:
    """How JSON output writes what json cannot: moments as UTC text, dates as ISO dates,
    decimals as their exact digits."""
    if isinstance(value, datetime):
        return utc_moment(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _float_text(value) if not value.is_finite() else str(value)
    return str(value)


def _finite(value: object) -> object:
    # `default` is never called for floats, lists or dicts: non-finite values inside them
    # are replaced here, before json sees them.
    if isinstance(value, float) and not math.isfinite(value):
        return _float_text(value)
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _float_text(value: float | Decimal) -> str:
    if value != value:  # NaN is the one value unequal to itself
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"

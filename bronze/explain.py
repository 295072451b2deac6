"""Why a landing line the engine could not read is not a record, in words a person can act on.

The engine's JSON reader only fails on such lines (two objects on a line, text after the
object, a number too large for a double); Python's `json` says where and what. Used for the
rare lines the engine marks unreadable, never to decide whether a line is valid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from bronze.transforms import Field


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def explain(line: str, fields: Iterable[Field]) -> str | None:
    """The reason `line` is not a record, or None if JSON itself finds no fault in it."""
    text = line.strip()
    if not text:
        return "empty line"
    if text.endswith(","):  # read as the engine read it (see `parse_records`)
        text = text[:-1].rstrip()
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as error:
        return f"malformed JSON: {error.msg} at column {error.colno}"
    except ValueError as error:
        return f"malformed JSON: {error}"
    rest = text[end:].lstrip()
    if rest:
        column = len(text) - len(rest) + 1
        try:
            _DECODER.raw_decode(rest)
        except ValueError:
            return f"unexpected text after the JSON object at column {column}: {rest[:20]!r}"
        return f"more than one JSON value on the line (the second starts at column {column})"
    if not isinstance(value, dict):
        return f"a JSON {_kind(value)}, not an object"
    for field in fields:
        found = value.get(field.name, value.get(field.alias) if field.alias else None)
        if isinstance(found, float) and not math.isfinite(found):
            return f"'{field.name}' is out of range for a {field.type}"
    return None


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"

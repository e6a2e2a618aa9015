"""Upstream's string encodings for hash fields: bool-str, num-str, JSON, ISO; strict decoding.

Decoders raise DataError naming the Redis key and field, so a bad value is reported, not guessed.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..errors import DataError
from ..jsnum import js_json, js_number
from ..timefmt import parse_iso, to_iso


def enc_bool(value: bool) -> str:
    return "true" if value else "false"


def dec_bool(value: str) -> bool:
    return value == "true"


def enc_num(value: float) -> str:
    return js_number(value)


def dec_int(value: str, key: str, field: str) -> int:
    """parseFloat-style integer: `""` is 0; `"5.0"` is 5; anything else unparseable is an error."""
    if value == "":
        return 0
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{key}: field {field} is not a number: {value[:80]!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise DataError(f"{key}: field {field} is not a finite number: {value[:80]!r}")
    return int(number)


def dec_float(value: str, key: str, field: str) -> float:
    if value == "":
        return 0.0
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{key}: field {field} is not a number: {value[:80]!r}") from None


def enc_json(value: Any) -> str:
    """Compact JSON as JS JSON.stringify writes it (non-ASCII kept as is, numbers in JS form)."""
    return js_json(value)


def dec_json(value: str, key: str, field: str, empty: Any) -> Any:
    """JSON text; `""` (upstream's stored null/empty) gives `empty`."""
    if value == "":
        return empty
    try:
        return json.loads(value)
    except ValueError:
        raise DataError(f"{key}: field {field} is not valid JSON: {value[:80]!r}") from None


def enc_time(value: datetime | None) -> str:
    return "" if value is None else to_iso(value)


def dec_time(value: str, key: str, field: str) -> datetime | None:
    if value == "":
        return None
    if len(value) == 24 and value[-1] == "Z" and value[10] == "T":  # upstream's own toISOString() form
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    try:
        return parse_iso(value)
    except ValueError:
        raise DataError(f"{key}: field {field} is not an ISO timestamp: {value[:80]!r}") from None

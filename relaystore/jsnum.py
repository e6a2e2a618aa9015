"""JavaScript `String(n)` rendering of numbers, so values relaystore writes read as upstream's do; and the
one check of JSON text that must hold an object."""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from .errors import DataError


def js_number(value: float) -> str:
    """Render like JS: `0`, `1.5`, `0.000001`, `1e-7`, `1e+21`; never `1.50` or `1e-07`."""
    if isinstance(value, bool):
        raise TypeError("js_number() takes a number, not a bool")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    text = repr(value)
    if 1e-6 <= abs(value) < 1e21:
        plain = format(Decimal(text), "f")
        return plain.rstrip("0").rstrip(".") if "." in plain else plain
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent):+d}"


def js_json(value: object) -> str:
    """Compact JSON exactly as JS `JSON.stringify` writes it (numbers via js_number, NaN as null)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or value is True or value is False:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value) if math.isfinite(value) else "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{js_json(str(k))}:{js_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_object(text: str, what: str) -> dict[str, Any]:
    """The object JSON `text` holds; DataError "`what` is not valid JSON" / "... is not a JSON object"."""
    try:
        value = json.loads(text)
    except ValueError:
        raise DataError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise DataError(f"{what} is not a JSON object")
    return value

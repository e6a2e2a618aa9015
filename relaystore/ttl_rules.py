"""Backend-neutral checks shared by the expiring families: TTLs, key-like strings, millisecond times.

Both backends must refuse the same inputs with the same error, so a value that one backend's
column could not hold (a 300-character token, an emoji in an ASCII id) is refused before either
backend sees it. Messages name the argument, never its value: several of these are secrets.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .errors import InvalidInput


def ttl_ms(ttl_seconds: float, what: str = "ttl_seconds") -> int:
    """A positive TTL in seconds (fractions allowed, for tests) as whole milliseconds (Redis PX)."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds, got {type(ttl_seconds).__name__}")
    ms = int(round(ttl_seconds * 1000))
    if ms < 1:
        raise InvalidInput(f"{what} must be positive, got {ttl_seconds!r}")
    return ms


def check_ascii_id(value: object, what: str, max_len: int) -> str:
    """An id or token: 1..max_len printable ASCII characters without spaces (an ASCII column holds it)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= max_len or not all("!" <= c <= "~" for c in value):
        raise InvalidInput(f"{what} must be 1-{max_len} printable ASCII characters without spaces")
    return value


def check_text_id(value: object, what: str, max_len: int) -> str:
    """A key-like string of any characters, 1..max_len long (a utf8mb4 VARCHAR column holds it)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= max_len:
        raise InvalidInput(f"{what} must be 1-{max_len} characters long")
    return value


def check_text(value: object, what: str, max_len: int, *, empty: bool = True) -> str:
    """A plain text value bounded by its column (max_len characters)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_len or (not empty and not value):
        raise InvalidInput(f"{what} must be {'' if empty else '1-'}{max_len} characters at most")
    return value


def ms_time(value: object, what: str) -> datetime | None:
    """An aware UTC datetime truncated to milliseconds (what DATETIME(3) and Date.toISOString keep)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime or None, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)

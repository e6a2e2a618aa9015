"""Upstream's time conventions: ISO strings in UTC with ms, and day/hour/month buckets in its offset."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


def utcnow() -> datetime:
    """Now in UTC, truncated to milliseconds as JavaScript's Date keeps it."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_iso(value: datetime) -> str:
    """`Date.toISOString()` form: `2025-07-30T01:02:03.456Z`."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO timestamp (with `Z` or an offset) into an aware UTC datetime; ValueError if bad."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def shifted(at: datetime, offset_hours: int) -> datetime:
    """The instant moved by the relay's offset; its UTC fields are upstream's local date and hour."""
    return at.astimezone(timezone.utc) + timedelta(hours=offset_hours)


def day_bucket(at: datetime, offset_hours: int) -> str:
    """`YYYY-MM-DD` in the relay's offset."""
    return shifted(at, offset_hours).strftime("%Y-%m-%d")


def month_bucket(at: datetime, offset_hours: int) -> str:
    """`YYYY-MM` in the relay's offset."""
    return shifted(at, offset_hours).strftime("%Y-%m")


def hour_bucket(at: datetime, offset_hours: int) -> str:
    """`YYYY-MM-DD:HH` in the relay's offset."""
    return shifted(at, offset_hours).strftime("%Y-%m-%d:%H")

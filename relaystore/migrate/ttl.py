"""Expiries of TTL'd keys, shared by every family that copies them (sessions, users, request details,
admin, account state, leases, queues, rate limits, usage).

A family with needs_ttl gets each key's absolute expiry in epoch ms (redis_reader.fetch: PEXPIRETIME,
Redis's own expiry, so every copy and every verify reads the same instant; only on Redis before 7.0 is
it now + PTTL). MySQL stores that instant as a naive UTC DATETIME(3); a rollback re-arms it with
PEXPIREAT to the millisecond, so a rollback an hour later gives each key an hour less, as Redis would.

The tolerance for the PTTL fallback lives in one place, mysql/expiry.COPY_JITTER_MS: keep_close() in
the upserts and same_expiry() here; with exact expiries neither ever needs it.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from ..mysql.expiry import COPY_JITTER_MS, keep_close  # noqa: F401 (families take it from here)

EPOCH = datetime(1970, 1, 1)
# Stored for a key without a TTL where the expiry column is NOT NULL (limits): read back as "no TTL".
NEVER = datetime(9999, 12, 31, 23, 59, 59, 999000)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def from_ms(millis: int) -> datetime:
    """Naive UTC datetime of epoch milliseconds (the DATETIME(3) columns' form)."""
    return EPOCH + timedelta(milliseconds=millis)


def to_ms(at: datetime) -> int:
    """Epoch milliseconds of a UTC datetime (naive, as DATETIME(3) columns hold it, or aware)."""
    return (_naive(at) - EPOCH) // timedelta(milliseconds=1)


def _naive(at: datetime) -> datetime:
    return at if at.tzinfo is None else at.astimezone(timezone.utc).replace(tzinfo=None)


def naive_utc(at: datetime | None) -> datetime | None:
    """A DATETIME(3) parameter (naive UTC) for an aware or naive UTC time."""
    return None if at is None else _naive(at)


def aware_utc(at: datetime | None) -> datetime | None:
    """An aware UTC time for a DATETIME(3) column value."""
    return None if at is None else at.replace(tzinfo=timezone.utc)


def expiry_of(expire_at_ms: int | None) -> datetime | None:
    """The expiry to store for a key read with this absolute expiry (Family.decode's third argument):
    a naive UTC datetime, or None when the key has no TTL (-1 or None)."""
    if expire_at_ms is None or expire_at_ms < 0:
        return None
    return from_ms(expire_at_ms)


def epoch_ms(at: datetime | int | None) -> int | None:
    """Epoch ms of an expiry in any of the families' forms (None or NEVER: no TTL)."""
    if at is None or isinstance(at, int):
        return at
    return None if _naive(at) >= NEVER else to_ms(at)


def live(at: datetime | int | None) -> bool:
    """False once the expiry has passed (Redis would no longer hold the key: a rollback writes nothing)."""
    millis = epoch_ms(at)
    return millis is None or millis > now_ms()


def queue_expiry(pipe: Any, full_key: str, at: datetime | int | None, **flags: bool) -> None:
    """Queue PEXPIREAT at the stored expiry, to the millisecond (no TTL: nothing); `flags` as redis-py's
    (nx, gt). An expiry already past deletes the key, as Redis would have by then."""
    millis = epoch_ms(at)
    if millis is not None:
        pipe.pexpireat(full_key, millis, **flags)


def same_expiry(a: datetime | int | None, b: datetime | int | None) -> bool:
    """Both without TTL, or expiring within COPY_JITTER_MS of each other (equal when read by PEXPIRETIME)."""
    ma, mb = epoch_ms(a), epoch_ms(b)
    if ma is None or mb is None:
        return ma is mb
    return abs(ma - mb) <= COPY_JITTER_MS

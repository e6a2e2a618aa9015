"""TTL handling shared by the lease, queue and rate-limit families: a Redis PTTL <-> an absolute expiry.

A copy stores when a key expires (PEXPIRETIME: Redis's own absolute expiry, so every copy stores the
same value; naive UTC DATETIME(3), as the tables' expires_at columns hold it); a rollback re-arms it
with PEXPIREAT. A key without a TTL is
stored as NEVER, a date no write of the relay produces, so a persistent key comes back persistent.
(The session families carry the same logic; the two can share one module once both are merged.)
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

# The expiry a copy stores for a key that has none (PTTL -1): read back as "no TTL".
NEVER = datetime(9999, 12, 31, 23, 59, 59, 999000)
EPOCH = datetime(1970, 1, 1)
TTL_TOLERANCE_MS = 2000   # verify: expiries further apart than this differ


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def from_ms(millis: int) -> datetime:
    """Naive UTC datetime of epoch milliseconds (the DATETIME(3) columns' form)."""
    return EPOCH + timedelta(milliseconds=millis)


def to_ms(at: datetime) -> int:
    """Epoch milliseconds of a naive UTC datetime."""
    return (at.replace(tzinfo=None) - EPOCH) // timedelta(milliseconds=1)


def expiry_of(expire_at_ms: int | None) -> datetime:
    """The expiry to store for a key read with this absolute expiry (Family.ttl_as_expiry; -1 or None: NEVER)."""
    if expire_at_ms is None or expire_at_ms < 0:
        return NEVER
    return from_ms(expire_at_ms)


def remaining_ms(expires_at: datetime) -> int | None:
    """The PTTL to re-arm: None for NEVER, else ms left (<= 0: already expired, write nothing)."""
    if expires_at >= NEVER:
        return None
    return to_ms(expires_at) - now_ms()


def queue_expiry(pipe: Any, full_key: str, expires_at: datetime) -> None:
    """PEXPIREAT the key to its stored expiry, to the ms (nothing for NEVER); call only for unexpired records."""
    if expires_at < NEVER:
        pipe.pexpireat(full_key, to_ms(expires_at))


def same_expiry(a: datetime, b: datetime) -> bool:
    """Both NEVER, or within TTL_TOLERANCE_MS of each other."""
    if (a >= NEVER) or (b >= NEVER):
        return (a >= NEVER) == (b >= NEVER)
    return abs(to_ms(a) - to_ms(b)) <= TTL_TOLERANCE_MS


# Re-copying a key whose expiry moved by no more than this keeps the stored one: on Redis 6 (no
# PEXPIRETIME) the expiry is the clock plus a PTTL, which jitters by a few ms, and a re-run must
# leave the rows unchanged.
KEEP_WITHIN_US = 1_000_000


def keep_close(column: str) -> str:
    """ON DUPLICATE KEY UPDATE clause for an expiry column: the new value unless within KEEP_WITHIN_US."""
    return (f"{column} = IF(ABS(TIMESTAMPDIFF(MICROSECOND, {column}, VALUES({column}))) <= {KEEP_WITHIN_US}, "
            f"{column}, VALUES({column}))")

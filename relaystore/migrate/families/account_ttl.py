"""TTL handling of the account-state family: Redis PTTL <-> an absolute expiry stored in MySQL.

Kept small and local on purpose (a shared base for expiring families is being written elsewhere;
this module is meant to be folded into it). The expiry is absolute, so a re-run of the copy reads a
shorter PTTL but stores the same instant; SQL_KEEP_CLOSE_EXPIRY keeps the stored instant when the
new one is within TOLERANCE_MS (the client clock between PTTL reply and decode), so re-runs change
no row. The rollback sets PEXPIREAT, i.e. re-arms exactly the remaining TTL.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...timefmt import utcnow

TOLERANCE_MS = 2000

# ON DUPLICATE KEY UPDATE fragment: the row's expiry unless the new one differs by more than the tolerance.
SQL_KEEP_CLOSE_EXPIRY = (
    "IF(expires_at IS NOT NULL AND VALUES(expires_at) IS NOT NULL AND "
    f"ABS(TIMESTAMPDIFF(MICROSECOND, expires_at, VALUES(expires_at))) <= {TOLERANCE_MS * 1000}, "
    "expires_at, VALUES(expires_at))"
)


def expires_at(pttl_ms: int | None) -> datetime | None:
    """The absolute UTC expiry (naive, millisecond precision, as DATETIME(3) keeps it) of a PTTL; None: no TTL."""
    if pttl_ms is None or pttl_ms < 0:
        return None
    at = utcnow().replace(tzinfo=None) + timedelta(milliseconds=pttl_ms)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def same_expiry(a: datetime | None, b: datetime | None) -> bool:
    """Both without TTL, or both expiring within TOLERANCE_MS of each other."""
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) * 1000 <= TOLERANCE_MS


def live(at: datetime | None) -> bool:
    """False once the instant has passed (the record is expired: nothing to roll back)."""
    return at is None or at > utcnow().replace(tzinfo=None)


def queue_expiry(pipe: Any, full_key: str, at: datetime | None) -> None:
    """PEXPIREAT the key at the stored instant (no TTL: nothing to do)."""
    if at is not None:
        epoch = datetime(1970, 1, 1)
        pipe.pexpireat(full_key, (at - epoch) // timedelta(milliseconds=1))

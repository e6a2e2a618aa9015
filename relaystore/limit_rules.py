"""Backend-neutral rules for concurrency leases, queues and rate-limit windows (spec §5, §6).

Both backends validate arguments here so they refuse the same inputs, and take upstream's
constants (grace, TTLs, sample counts) from here so the MySQL tables age like the Redis keys.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .errors import InvalidInput

# §5: PEXPIRE of concurrency:{id} = max((lease + grace) * 1000, 60000) ms.
LEASE_GRACE_MS = 30_000
LEASE_MIN_KEY_TTL_MS = 60_000
# §5 queue: counter TTL = ceil(timeoutMs / 1000) + 30 s; stats 7 d; wait samples 1 d.
QUEUE_TTL_BUFFER_SECONDS = 30
QUEUE_DEFAULT_TIMEOUT_MS = 60_000
QUEUE_STATS_TTL_SECONDS = 7 * 86400
WAIT_TIMES_TTL_SECONDS = 86400
WAIT_SAMPLES_PER_KEY = 500
WAIT_SAMPLES_GLOBAL = 2000
# Upstream names its global sample list concurrency:queue:wait_times:global, so "global" is the list id.
GLOBAL_WAIT_LIST = "global"
QUEUE_OUTCOMES = ("entered", "success", "timeout", "cancelled", "socket_changed", "rejected_overload")
# §6 step 2, in this order: requests, then tokens; cost only when no token limit is set.
RATE_LIMIT_REASONS = ("requests", "tokens", "cost")

MAX_ID_LENGTH = 191  # the MySQL id columns; Redis takes the same ids so both backends agree


def account_lease_id(account_id: str) -> str:
    """The lease key id upstream uses for a Claude Console account's maxConcurrency (§5)."""
    return f"console_account:{check_id('account_id', account_id)}"


def check_id(name: str, value: object) -> str:
    """A key or request id: non-empty printable ASCII of at most 191 chars (MySQL ascii_bin columns)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH or not value.isascii() or not value.isprintable():
        raise InvalidInput(f"{name} must be printable ASCII of at most {MAX_ID_LENGTH} characters")
    return value


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidInput(f"{name} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{name} must be finite")
    return number


def lease_ms(ttl_seconds: object) -> int:
    """A lease TTL in whole ms (fractional seconds allowed); at least 1 ms."""
    millis = round(_number("ttl_seconds", ttl_seconds) * 1000)
    if millis < 1:
        raise InvalidInput("ttl_seconds must be at least 0.001")
    return millis


def lease_key_ttl_ms(millis: int) -> int:
    """Upstream's PEXPIRE for a lease set: the lease plus grace, and never under 60 s."""
    return max(millis + LEASE_GRACE_MS, LEASE_MIN_KEY_TTL_MS)


def check_limit(limit: object) -> int:
    """A concurrency limit: a whole number >= 0, where 0 means unlimited (upstream concurrencyLimit)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput("limit must be a whole number >= 0 (0 = unlimited)")
    return limit


def queue_ttl_seconds(timeout_ms: object) -> int:
    """TTL of a waiting counter: ceil(timeoutMs / 1000) + 30 s, re-armed by every enter()."""
    millis = _number("timeout_ms", timeout_ms)
    if millis < 0:
        raise InvalidInput("timeout_ms must not be negative")
    return math.ceil(millis / 1000) + QUEUE_TTL_BUFFER_SECONDS


def check_outcome(outcome: object) -> str:
    """One of upstream's queue stat fields."""
    if not isinstance(outcome, str) or outcome not in QUEUE_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(QUEUE_OUTCOMES)}")
    return outcome


def check_count(name: str, value: object) -> int:
    """A whole number >= 0 (token counts, wait ms, limits)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a whole number >= 0")
    return value


def check_cost(name: str, value: object) -> float:
    """A cost in USD >= 0."""
    number = _number(name, value)
    if number < 0:
        raise InvalidInput(f"{name} must not be negative")
    return number


def window_ms(window_minutes: object) -> int:
    """The window length in ms (`rateLimitWindow` minutes x 60000); fractions allowed, at least 1 ms."""
    millis = round(_number("window_minutes", window_minutes) * 60_000)
    if millis < 1:
        raise InvalidInput("window_minutes must be positive")
    return millis


def decimal_text(value: float) -> str:
    """A float as plain decimal text (no exponent) for exact DECIMAL arithmetic in SQL."""
    return format(Decimal(repr(float(value))), "f")


def from_epoch_ms(millis: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds (upstream's window_start and lease scores)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)


def to_epoch_ms(at: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)

"""Upstream's usage rules, shared by both backends: buckets, model names, the Opus week, cost units.

Every bucket string follows the relay's TIMEZONE_OFFSET the way upstream computes it: move the
instant by the offset, then read its UTC fields (redis-layout.md §0). The offset is a fixed number
of hours (no DST), so local hours map one to one onto UTC hours and bucket strings of one kind sort
in time order, which the MySQL backend relies on for its range reads.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import InvalidInput
from .timefmt import shifted, utcnow

PERIODS = ("total", "daily", "monthly", "hourly")
COST_PERIODS = PERIODS + ("weekly",)

# Account types whose Claude-family requests count towards the weekly Opus cost (aks.js recordOpusCost).
OPUS_ACCOUNT_TYPES = frozenset({"claude-official", "claude-console", "ccr"})

# Vendor prefixes upstream strips before the Claude-family test (modelHelper.js).
_VENDOR_PREFIXES = ("ccr",)

# JS regexes translated with care: [0-9] (JS \d is ASCII-only) and \Z (Python's $ also matches
# before a trailing newline, JS's does not).
_REGION_PREFIX = re.compile(r"^[a-z0-9-]+\.")
_BEDROCK_VERSION = re.compile(r"-v[0-9]+:[0-9]+\Z")
_VERSION_OR_LATEST = re.compile(r"(?:-v[0-9]+:[0-9]+|:latest)\Z")

_BUCKET_FORMS = {
    "daily": (re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"), "%Y-%m-%d"),
    "monthly": (re.compile(r"[0-9]{4}-[0-9]{2}\Z"), "%Y-%m"),
    "hourly": (re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}:[0-9]{2}\Z"), "%Y-%m-%d:%H"),
    "weekly": (re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}\Z"), "%Y-%m-%dT%H"),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_ID_LENGTH = 64
MAX_MODEL_BYTES = 255


@dataclass(frozen=True, slots=True)
class Buckets:
    """The bucket strings one instant falls into: `2025-07-30`, `2025-07`, `2025-07-30:09`, epoch minute."""

    day: str
    month: str
    hour: str
    minute: int


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (never as the machine's local time)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def epoch_ms(at: datetime) -> int:
    """JavaScript `Date.getTime()` of an instant: whole milliseconds since the epoch, computed exactly."""
    return (as_utc(at) - _EPOCH) // timedelta(milliseconds=1)


def buckets(at: datetime, offset_hours: int) -> Buckets:
    """Upstream's day/month/hour strings in the offset, and its UTC epoch minute (system metrics)."""
    at = as_utc(at)
    local = shifted(at, offset_hours)
    day = local.strftime("%Y-%m-%d")
    return Buckets(day=day, month=day[:7], hour=f"{day}:{local.hour:02d}",
                   minute=(at - _EPOCH) // timedelta(minutes=1))


def normalize_model(model: str) -> str:
    """upstream _normalizeModelName: Bedrock ids drop region, `anthropic.`, `-vN:M`; others `-vN:M`/`:latest`."""
    if not model or model == "unknown":
        return model
    if ".anthropic." in model or ".claude" in model:
        normalized = _REGION_PREFIX.sub("", model, count=1)
        normalized = normalized.replace("anthropic.", "", 1)
        return _BEDROCK_VERSION.sub("", normalized, count=1)
    return _VERSION_OR_LATEST.sub("", model, count=1)


def _base_model(model: str) -> str:
    """modelHelper.parseVendorPrefixedModel: drop a known `vendor,` prefix, trim."""
    trimmed = model.strip()
    lowered = trimmed.lower()
    for vendor in _VENDOR_PREFIXES:
        if lowered.startswith(f"{vendor},"):
            return ",".join(trimmed.split(",")[1:]).strip()
    return trimmed


def is_claude_family(model: str | None) -> bool:
    """modelHelper.isClaudeFamilyModel: Anthropic/Bedrock Claude ids, or a family word in the name."""
    if not model or not isinstance(model, str):
        return False
    m = _base_model(model).strip().lower()
    if not m:
        return False
    if ".anthropic.claude-" in m or m.startswith("anthropic.claude-") or ".claude-" in m:
        return True
    if "claude-" in m:
        return True
    return "opus" in m or "sonnet" in m or "haiku" in m


def opus_applies(model: str, account_type: str | None, real_cost: float) -> bool:
    """Whether a request adds to the weekly Opus counters (upstream: cost > 0, Claude model, Claude account)."""
    return real_cost > 0 and account_type in OPUS_ACCOUNT_TYPES and is_claude_family(model)


def _check_reset(reset_day: int, reset_hour: int) -> None:
    if isinstance(reset_day, bool) or not isinstance(reset_day, int) or not 1 <= reset_day <= 7:
        raise InvalidInput(f"weekly_reset_day must be 1..7 (Monday..Sunday), got {reset_day!r}")
    if isinstance(reset_hour, bool) or not isinstance(reset_hour, int) or not 0 <= reset_hour <= 23:
        raise InvalidInput(f"weekly_reset_hour must be 0..23, got {reset_hour!r}")


def weekly_period_start(at: datetime, offset_hours: int, reset_day: int = 1, reset_hour: int = 0) -> datetime:
    """Start of the Opus week containing `at`, as a naive datetime in the relay's local time."""
    _check_reset(reset_day, reset_hour)
    local = shifted(as_utc(at), offset_hours).replace(tzinfo=None)
    days_since = (local.isoweekday() - reset_day + 7) % 7
    if days_since == 0 and local.hour < reset_hour:
        days_since = 7
    return (local - timedelta(days=days_since)).replace(hour=reset_hour, minute=0, second=0, microsecond=0)


def weekly_period(at: datetime, offset_hours: int, reset_day: int = 1, reset_hour: int = 0) -> str:
    """upstream getPeriodString: `YYYY-MM-DDTHH` of the week's start, the suffix of usage:opus:weekly:*."""
    return weekly_period_start(at, offset_hours, reset_day, reset_hour).strftime("%Y-%m-%dT%H")


def next_weekly_reset(at: datetime, offset_hours: int, reset_day: int = 1, reset_hour: int = 0) -> datetime:
    """upstream getNextResetTime: the UTC instant the Opus week after `at` begins (a 402's resetAt)."""
    _check_reset(reset_day, reset_hour)
    local = shifted(as_utc(at), offset_hours)
    days_until = (reset_day - local.isoweekday() + 7) % 7
    if days_until == 0 and local.hour >= reset_hour:
        days_until = 7
    reset_local = (local + timedelta(days=days_until)).replace(hour=reset_hour, minute=0, second=0,
                                                                microsecond=0)
    return reset_local - timedelta(hours=offset_hours)


def week_hour_range(period: str) -> tuple[str, str]:
    """First and last hour bucket (`YYYY-MM-DD:HH`) of the 168-hour week starting at `period`."""
    start = datetime.strptime(period, "%Y-%m-%dT%H")
    return start.strftime("%Y-%m-%d:%H"), (start + timedelta(hours=167)).strftime("%Y-%m-%d:%H")


def js_round(value: float) -> int:
    """JavaScript Math.round: the nearest integer, halves towards +infinity (Python's round() goes to even).

    Computed from the exact fraction, not floor(x + 0.5), which is 1 for 0.49999999999999994.
    """
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


def micro(cost: float) -> int:
    """upstream's `*CostMicro` increment: `Math.round(cost * 1000000)`."""
    return js_round(cost * 1000000)


def bucket_for(period: str, when: Any, offset_hours: int, *, reset_day: int = 1, reset_hour: int = 0) -> str:
    """The bucket string of `period` for `when`: None (now), a datetime, a date, or the bucket string itself.

    `total` has the empty bucket. A datetime is placed in the relay's offset (naive = UTC); a date
    names a local calendar day (daily, monthly only).
    """
    if period == "total":
        return ""
    if period not in _BUCKET_FORMS:
        raise InvalidInput(f"period must be one of {', '.join(COST_PERIODS)}, got {period!r}")
    pattern, fmt = _BUCKET_FORMS[period]
    if isinstance(when, str):
        if not pattern.match(when):
            raise InvalidInput(f"{period} bucket must look like {datetime(2025, 7, 30, 9).strftime(fmt)}, "
                               f"got {when[:40]!r}")
        try:
            datetime.strptime(when, fmt)
        except ValueError:
            raise InvalidInput(f"{period} bucket {when!r} is not a real date") from None
        return when
    if when is None:
        when = utcnow()
    if isinstance(when, datetime):
        if period == "weekly":
            return weekly_period(when, offset_hours, reset_day, reset_hour)
        b = buckets(when, offset_hours)
        return {"daily": b.day, "monthly": b.month, "hourly": b.hour}[period]
    if isinstance(when, date_type) and period in ("daily", "monthly"):
        return when.strftime(fmt)
    raise InvalidInput(f"date for a {period} period must be a bucket string or a datetime, "
                       f"got {type(when).__name__}")


def check_period(period: str, allowed: tuple[str, ...] = PERIODS) -> str:
    """The period unchanged, or InvalidInput naming the allowed ones."""
    if period not in allowed:
        raise InvalidInput(f"period must be one of {', '.join(allowed)}, got {period!r}")
    return period


def check_id(name: str, value: object) -> str:
    """A key or account id as the rollups store it: 1..64 printable ASCII characters, no spaces."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH \
            or not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidInput(f"{name} must be 1..{MAX_ID_LENGTH} printable ASCII characters without spaces")
    return value


def check_day(name: str, value: object) -> str:
    """A `YYYY-MM-DD` day string (or a date) for report ranges."""
    if isinstance(value, date_type) and not isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a YYYY-MM-DD string or a date")
    return bucket_for("daily", value, 0)


def check_range(start_day: str, end_day: str) -> None:
    """InvalidInput unless start_day <= end_day (both already checked day strings)."""
    if end_day < start_day:
        raise InvalidInput(f"end day {end_day} is before start day {start_day}")


def days_between(start_day: str, end_day: str, *, max_days: int = 366) -> list[str]:
    """Every day string from start to end inclusive; InvalidInput if reversed or longer than max_days."""
    start = datetime.strptime(start_day, "%Y-%m-%d")
    end = datetime.strptime(end_day, "%Y-%m-%d")
    count = (end - start).days + 1
    if count < 1:
        raise InvalidInput(f"end day {end_day} is before start day {start_day}")
    if count > max_days:
        raise InvalidInput(f"a report covers at most {max_days} days, got {count}")
    return [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(count)]


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One request's validated usage, as both backends write it (model already normalized)."""

    key_id: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_create_tokens: int
    cache_read_tokens: int
    ephemeral_5m_tokens: int
    ephemeral_1h_tokens: int
    long_context: bool
    real_cost: float
    rated_cost: float
    account_id: str | None
    account_type: str | None
    at: datetime
    buckets: Buckets

    @property
    def core_tokens(self) -> int:
        """upstream `tokens`/`totalTokens`: input + output."""
        return self.input_tokens + self.output_tokens

    @property
    def all_tokens(self) -> int:
        """upstream `allTokens`: input + output + cache create + cache read."""
        return self.input_tokens + self.output_tokens + self.cache_create_tokens + self.cache_read_tokens

    @property
    def opus(self) -> bool:
        return opus_applies(self.model, self.account_type, self.real_cost)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _money(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{name} must be a finite non-negative number, got {value!r}")
    return float(value)


def usage_event(key_id: str, *, model: str, input_tokens: int = 0, output_tokens: int = 0,
                cache_create_tokens: int = 0, cache_read_tokens: int = 0, ephemeral_5m_tokens: int = 0,
                ephemeral_1h_tokens: int = 0, long_context: bool = False, real_cost: float = 0.0,
                rated_cost: float = 0.0, account_id: str | None = None, account_type: str | None = None,
                at: datetime | None = None, offset_hours: int = 8) -> UsageEvent:
    """Validate record()'s arguments and fix the request's instant and buckets.

    An empty model is recorded as `unknown` (upstream's default name): the MySQL rollups use the
    empty string for "all models". An empty account id means no account, as upstream's `if (accountId)`.
    """
    check_id("key_id", key_id)
    if model is None or model == "":
        model = "unknown"
    if not isinstance(model, str):
        raise InvalidInput(f"model must be a string, got {type(model).__name__}")
    normalized = normalize_model(model)
    try:
        size = len(normalized.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("model name is not valid Unicode text") from None
    if not 0 < size <= MAX_MODEL_BYTES:
        raise InvalidInput(f"model name must be 1..{MAX_MODEL_BYTES} bytes of UTF-8 after normalization")
    if account_id == "":
        account_id = None
    if account_id is not None:
        check_id("account_id", account_id)
    if account_type is not None and not isinstance(account_type, str):
        raise InvalidInput("account_type must be a string")
    if at is None:
        at = utcnow()
    elif not isinstance(at, datetime):
        raise InvalidInput(f"at must be a datetime, got {type(at).__name__}")
    at = as_utc(at)
    return UsageEvent(
        key_id=key_id, model=normalized,
        input_tokens=_count("input_tokens", input_tokens), output_tokens=_count("output_tokens", output_tokens),
        cache_create_tokens=_count("cache_create_tokens", cache_create_tokens),
        cache_read_tokens=_count("cache_read_tokens", cache_read_tokens),
        ephemeral_5m_tokens=_count("ephemeral_5m_tokens", ephemeral_5m_tokens),
        ephemeral_1h_tokens=_count("ephemeral_1h_tokens", ephemeral_1h_tokens),
        long_context=bool(long_context), real_cost=_money("real_cost", real_cost),
        rated_cost=_money("rated_cost", rated_cost), account_id=account_id, account_type=account_type,
        at=at, buckets=buckets(at, offset_hours))

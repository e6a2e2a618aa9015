"""Backend-neutral request-detail rules: upstream's retention, ids, UTC day buckets and JSON.

Upstream (requestDetailService.js captureRequestDetail) writes the whole normalised record as
JSON under request_detail:item:{requestId} with `EX max(3600, retentionHours*3600)`, and adds the
id to request_detail:index:day:{YYYY-MM-DD} scored by the record's timestamp in ms, re-arming that
index's TTL to item TTL + 86,400 s. The day is the UTC date of the timestamp (spec §9), not the
relay's offset day. retentionHours is clamped to 1..720 (default 6). Normalising and merging a
record with an earlier capture of the same request is the relay's business; relaystore stores the
record it is given, verbatim.
"""
from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .errors import DataError, InvalidInput
from .jsnum import js_json
from .records import RequestDetail
from .timefmt import parse_iso, to_iso
from .ttl_rules import check_text_id, ms_time, ttl_ms

DEFAULT_RETENTION_HOURS = 6
MAX_RETENTION_HOURS = 30 * 24
MIN_ITEM_TTL_SECONDS = 3_600
INDEX_GRACE_SECONDS = 86_400
REQUEST_ID_MAX = 191
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BASE36 = string.digits + string.ascii_lowercase
_PARSE_INT = re.compile(r"\s*[+-]?\d+")   # what JS parseInt(text, 10) reads


def clamp_retention_hours(hours: object) -> int:
    """Upstream's clampRetentionHours: parseInt(value, 10) clamped to 1..720, 6 when not a number."""
    match = _PARSE_INT.match(str(hours))
    if match is None:
        return DEFAULT_RETENTION_HOURS
    return min(max(int(match.group(0)), 1), MAX_RETENTION_HOURS)


def item_ttl_ms(retention_hours: object = DEFAULT_RETENTION_HOURS, ttl_seconds: float | None = None) -> int:
    """The item TTL: max(3600, retention*3600) s, or an explicit ttl_seconds (tests, operators)."""
    if ttl_seconds is not None:
        return ttl_ms(ttl_seconds)
    return max(MIN_ITEM_TTL_SECONDS, clamp_retention_hours(retention_hours) * 3600) * 1000


def index_ttl_ms(item_ms: int) -> int:
    """The day index outlives its items by one day, as upstream's does."""
    return item_ms + INDEX_GRACE_SECONDS * 1000


def new_request_id(now: datetime) -> str:
    """Upstream's makeRequestDetailId: rd_{epoch ms}_{8 base-36 characters}."""
    suffix = "".join(random.SystemRandom().choice(_BASE36) for _ in range(8))
    return f"rd_{int(now.timestamp() * 1000)}_{suffix}"


def day_of(at: datetime) -> str:
    """The UTC day (YYYY-MM-DD) a detail is indexed under."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d")


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes; InvalidInput for anything but YYYY-MM-DD."""
    if not isinstance(day, str) or not _DAY.fullmatch(day):
        raise InvalidInput("day must be a YYYY-MM-DD string")
    try:
        start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=timezone.utc)
    except ValueError:
        raise InvalidInput("day must be a real calendar date (YYYY-MM-DD)") from None
    return start, start + timedelta(days=1)


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def prepare(detail: Mapping[str, Any] | RequestDetail, *, now: datetime) -> RequestDetail:
    """The record put() stores: requestId and timestamp filled in as upstream fills them."""
    data = dict(detail.data) if isinstance(detail, RequestDetail) else dict(detail)
    if isinstance(detail, RequestDetail):
        data["requestId"], data["timestamp"] = detail.request_id, to_iso(detail.timestamp)
    request_id = data.get("requestId") or new_request_id(now)
    check_text_id(request_id, "requestId", REQUEST_ID_MAX)
    raw = data.get("timestamp")
    if raw in (None, ""):
        timestamp = now
    elif isinstance(raw, datetime):
        timestamp = ms_time(raw, "timestamp") or now
    elif isinstance(raw, str):
        try:
            timestamp = ms_time(parse_iso(raw), "timestamp") or now
        except ValueError:
            raise InvalidInput("timestamp must be an ISO timestamp") from None
    else:
        raise InvalidInput(f"timestamp must be an ISO string or datetime, got {type(raw).__name__}")
    data["requestId"], data["timestamp"] = request_id, to_iso(timestamp)
    try:
        js_json(data)
    except TypeError as exc:
        raise InvalidInput(f"request detail must hold JSON values: {exc}") from None
    return RequestDetail(request_id=request_id, timestamp=timestamp, data=data)


def to_json(detail: RequestDetail) -> str:
    return js_json(detail.data)


def from_json(text: str, label: str) -> RequestDetail:
    """A record from the stored JSON; DataError names `label` (the key or row)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise DataError(f"{label}: request detail is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("requestId"), str):
        raise DataError(f"{label}: request detail is not an object with a requestId")
    try:
        timestamp = parse_iso(data["timestamp"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{label}: request detail has no valid timestamp") from None
    return RequestDetail(request_id=data["requestId"], timestamp=timestamp, data=data)


_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def stored_day(text: str) -> str | None:
    """The UTC day of a stored detail's timestamp without building the record (None if unreadable)."""
    try:
        raw = json.loads(text).get("timestamp")
    except (ValueError, AttributeError):
        return None
    if not isinstance(raw, str):
        return None
    if _ISO_Z.match(raw):  # toISOString form: the date part is already the UTC day
        return raw[:10]
    try:
        return day_of(parse_iso(raw))
    except ValueError:
        return None

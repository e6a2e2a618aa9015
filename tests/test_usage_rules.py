"""Upstream's shared usage rules (redis-layout.md §0, §3, §4), checked without a server."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from relaystore import InvalidInput
from relaystore.usage_rules import (
    bucket_for,
    buckets,
    epoch_ms,
    is_claude_family,
    js_round,
    micro,
    next_weekly_reset,
    normalize_model,
    opus_applies,
    usage_event,
    week_hour_range,
    weekly_period,
    weekly_period_start,
)

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("model, expected", [
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"),   # the spec's example
    ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
    ("eu-west-1.anthropic.claude-opus-4-20250514-v1:0", "claude-opus-4-20250514"),
    ("apac.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4-20250514"),
    ("US.anthropic.claude-3-5-sonnet-20241022-v2:0", "US.claude-3-5-sonnet-20241022"),  # JS regex is [a-z0-9-]
    ("gpt-4o:latest", "gpt-4o"),
    ("llama3-v1:0", "llama3"),
    ("gpt-4o:free", "gpt-4o:free"),
    ("claude-sonnet-4-20250514[1m]", "claude-sonnet-4-20250514[1m]"),
    ("claude-3-opus-20240229", "claude-3-opus-20240229"),
    ("model-v1:0\n", "model-v1:0\n"),          # JS `$` is the very end; Python's `$` would match before \n
    ("model-v\u0661:\u0660", "model-v\u0661:\u0660"),  # JS \d is ASCII only
    ("", ""),
    ("unknown", "unknown"),
])
def test_normalize_model_matches_upstream(model, expected):
    assert normalize_model(model) == expected


@pytest.mark.parametrize("model, expected", [
    ("claude-3-opus-20240229", True), ("claude-sonnet-4-20250514", True), ("  Claude-3-Haiku ", True),
    ("ccr,claude-sonnet-4", True), ("CCR, claude-opus-4", True), ("ccr,gpt-4o", False),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", True), ("anthropic.claude-v2", True),
    ("OPUS", True), ("my-haiku-model", True), ("sonnet", True),
    ("gpt-4o", False), ("gemini-2.5-pro", False), ("claude", False), ("", False), (None, False),
])
def test_claude_family_matches_upstream(model, expected):
    assert is_claude_family(model) is expected


@pytest.mark.parametrize("model, account_type, real_cost, expected", [
    ("claude-opus-4", "claude-official", 0.1, True), ("claude-opus-4", "claude-console", 0.1, True),
    ("claude-opus-4", "ccr", 0.1, True), ("claude-opus-4", "openai", 0.1, False),
    ("claude-opus-4", None, 0.1, False), ("gpt-4o", "claude-official", 0.1, False),
    ("claude-opus-4", "claude-official", 0.0, False),
])
def test_opus_applies_needs_cost_claude_model_and_claude_account(model, account_type, real_cost, expected):
    assert opus_applies(model, account_type, real_cost) is expected


def test_buckets_use_the_offset_and_the_minute_is_utc():
    at = utc(2025, 7, 30, 1, 2, 3, 456000)          # 09:02 on 2025-07-30 at +8
    b = buckets(at, 8)
    assert (b.day, b.month, b.hour) == ("2025-07-30", "2025-07", "2025-07-30:09")
    assert b.minute == epoch_ms(at) // 60000 == 29230622 and epoch_ms(at) == 1753837323456
    assert buckets(at, -5).hour == "2025-07-29:20"


@pytest.mark.parametrize("offset, before, after", [
    (8, utc(2025, 7, 31, 15, 59, 59, 999000), utc(2025, 7, 31, 16)),   # local midnight into August
    (-5, utc(2025, 8, 1, 4, 59, 59, 999000), utc(2025, 8, 1, 5)),
    (8, utc(2024, 12, 31, 15, 59, 59), utc(2024, 12, 31, 16)),          # into a new year
])
def test_hour_day_month_roll_over_at_local_midnight(offset, before, after):
    a, b = buckets(before, offset), buckets(after, offset)
    assert a.hour.endswith(":23") and b.hour.endswith(":00")
    assert a.day < b.day and a.month < b.month
    assert b.day.endswith("-01")


def test_hour_rolls_over_at_the_local_hour():
    assert buckets(utc(2025, 7, 30, 1, 59, 59, 999000), 8).hour == "2025-07-30:09"
    assert buckets(utc(2025, 7, 30, 2), 8).hour == "2025-07-30:10"


def test_naive_datetimes_are_utc():
    assert buckets(datetime(2025, 7, 30, 1, 0), 8) == buckets(utc(2025, 7, 30, 1, 0), 8)


@pytest.mark.parametrize("at, reset_day, reset_hour, period", [
    (utc(2025, 7, 30, 1), 1, 0, "2025-07-28T00"),     # Wed 09:00 local -> Monday's week
    (utc(2025, 7, 30, 1), 3, 10, "2025-07-23T10"),    # Wed 09:00, reset Wed 10:00 -> last week's
    (utc(2025, 7, 30, 1), 3, 9, "2025-07-30T09"),     # reset hour reached -> this week's
    (utc(2025, 8, 3, 15, 59), 1, 0, "2025-07-28T00"),  # Sun 23:59 local, still the week of 07-28
    (utc(2025, 8, 3, 16), 1, 0, "2025-08-04T00"),     # Mon 00:00 local, a new week
    (utc(2024, 12, 31, 16, 30), 1, 0, "2024-12-30T00"),  # across a year boundary
    (utc(2025, 8, 3, 20), 7, 23, "2025-08-03T23"),    # Mon 04:00 local, reset Sun 23:00 (5 h ago)
])
def test_weekly_period_matches_upstream_get_period_string(at, reset_day, reset_hour, period):
    assert weekly_period(at, 8, reset_day, reset_hour) == period
    start = weekly_period_start(at, 8, reset_day, reset_hour)
    assert start.isoweekday() == reset_day and start.hour == reset_hour
    local = at.replace(tzinfo=None) + timedelta(hours=8)
    assert start <= local < start + timedelta(days=7)


@pytest.mark.parametrize("at, reset_day, reset_hour, reset_at", [
    (utc(2025, 7, 30, 1), 1, 0, utc(2025, 8, 3, 16)),    # next Monday 00:00 local = Sunday 16:00 UTC
    (utc(2025, 7, 30, 1), 3, 10, utc(2025, 7, 30, 2)),   # later today
    (utc(2025, 7, 30, 1), 3, 9, utc(2025, 8, 6, 1)),     # reset hour reached today -> next week
])
def test_next_weekly_reset_matches_upstream(at, reset_day, reset_hour, reset_at):
    assert next_weekly_reset(at, 8, reset_day, reset_hour) == reset_at


def test_week_hour_range_covers_168_local_hours():
    assert week_hour_range("2025-07-28T00") == ("2025-07-28:00", "2025-08-03:23")
    assert week_hour_range("2025-07-30T09") == ("2025-07-30:09", "2025-08-06:08")


@pytest.mark.parametrize("reset_day, reset_hour", [(0, 0), (8, 0), (1, 24), (1, -1), (True, 0)])
def test_weekly_reset_settings_are_checked(reset_day, reset_hour):
    with pytest.raises(InvalidInput):
        weekly_period(utc(2025, 7, 30), 8, reset_day, reset_hour)


def test_micro_rounds_like_math_round():
    assert micro(0.25) == 250000 and micro(1.5e-6) == 2 and micro(0.0) == 0
    assert js_round(2.5) == 3 and js_round(3.5) == 4        # Python's round() would give 2 and 4
    assert js_round(0.49999999999999994) == 0               # floor(x + 0.5) would give 1


def test_bucket_for_accepts_strings_datetimes_and_dates():
    at = utc(2025, 7, 30, 1)
    assert bucket_for("daily", at, 8) == bucket_for("daily", "2025-07-30", 8) == "2025-07-30"
    assert bucket_for("monthly", date(2025, 7, 30), 8) == "2025-07"
    assert bucket_for("hourly", at, 8) == "2025-07-30:09"
    assert bucket_for("weekly", at, 8, reset_day=3, reset_hour=10) == "2025-07-23T10"
    assert bucket_for("total", "anything", 8) == ""


@pytest.mark.parametrize("period, when", [
    ("daily", "2025-7-30"), ("daily", "2025-02-30"), ("hourly", "2025-07-30 09"), ("monthly", "2025-13"),
    ("weekly", "2025-07-28"), ("yearly", None), ("hourly", date(2025, 7, 30)), ("daily", 20250730),
])
def test_bucket_for_rejects_malformed_buckets(period, when):
    with pytest.raises(InvalidInput):
        bucket_for(period, when, 8)


def test_usage_event_normalizes_and_derives():
    ev = usage_event("k1", model="us.anthropic.claude-3-5-sonnet-20241022-v2:0", input_tokens=10,
                     output_tokens=5, cache_create_tokens=2, cache_read_tokens=3, at=utc(2025, 7, 30, 1))
    assert ev.model == "claude-3-5-sonnet-20241022"
    assert (ev.core_tokens, ev.all_tokens) == (15, 20)
    assert ev.buckets.day == "2025-07-30"
    assert usage_event("k1", model="").model == "unknown"
    assert usage_event("k1", model="m", account_id="").account_id is None


@pytest.mark.parametrize("kwargs", [
    {"input_tokens": -1}, {"output_tokens": 1.5}, {"cache_read_tokens": True}, {"real_cost": float("nan")},
    {"rated_cost": -0.1}, {"real_cost": "1"}, {"model": 5}, {"account_id": "has space"},
    {"at": "2025-07-30"}, {"model": "x" * 256},
])
def test_usage_event_rejects_bad_input(kwargs):
    values = {"model": "m", **kwargs}
    with pytest.raises(InvalidInput):
        usage_event("k1", **values)


@pytest.mark.parametrize("key_id", ["", "a" * 65, "ключ", "a b", None])
def test_usage_event_rejects_bad_key_ids(key_id):
    with pytest.raises(InvalidInput):
        usage_event(key_id, model="m")

"""Usage and cost on Redis, in upstream's layout (redis-layout.md §3, §4).

record() sends every counter upstream's recordUsage touches (key-level, per model, per key and
model, system minute, global, index sets, cost and Opus keys, account-level, lastUsedAt) in ONE
MULTI/EXEC pipeline, so a request is counted everywhere or nowhere (upstream uses a plain
pipeline plus separate calls). Differences from upstream's writer, all deliberate:
- No `usage:records:{id}` list entry (it needs request metadata record() does not take).
- Account rollups are written even when `apikey:{id}` is missing (upstream skips them then).
- `lastUsedAt` is set only if the key exists (a Lua guard, so no stray half hash is created) and
  never moves backwards; upstream rewrites the whole hash with "now".
- The bare-total fallback (`out := tokens` when input and output are 0) does not apply: record()
  takes the token kinds, never a bare total.
Readers accept what upstream writes, including legacy hashes without `allTokens`/`tokens`.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import redis

from .. import usage_rules as rules
from ..config import Settings
from ..errors import NotSupported
from ..records import CostLimits, UsageBreakdown, UsageRow, UsageTotals
from ..timefmt import utcnow
from . import codec
from .client import redis_errors
from .keys import API_KEY_TTL_SECONDS, Keys

DAY = 86400
TTL_DAILY = 32 * DAY
TTL_MONTHLY = 365 * DAY
TTL_HOURLY = 7 * DAY
TTL_COST_DAILY = 30 * DAY
TTL_COST_MONTHLY = 90 * DAY
TTL_COST_HOURLY = 7 * DAY
TTL_OPUS_WEEKLY = 14 * DAY
METRICS_WINDOW_MINUTES = 5          # upstream config.system.metricsWindow default
TTL_MINUTE = METRICS_WINDOW_MINUTES * 120

# Sets lastUsedAt only on an existing key (so a record for an unknown id creates no half hash) and
# only forwards: ISO strings of one fixed format compare in time order. Re-arms the 365-day TTL as
# upstream's setApiKey does. KEYS: apikey:{id}, apikey:idx:lastUsedAt. ARGV: iso, epoch ms, id, ttl.
TOUCH_LAST_USED = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local current = redis.call('HGET', KEYS[1], 'lastUsedAt')
  if not current or current < ARGV[1] then
    redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
"""

# UsageTotals attribute -> upstream field, for the `usage:{id}`/`account_usage:{id}` hashes and the rest.
_TOTAL_NAMES = {
    "requests": "totalRequests", "input_tokens": "totalInputTokens", "output_tokens": "totalOutputTokens",
    "cache_create_tokens": "totalCacheCreateTokens", "cache_read_tokens": "totalCacheReadTokens",
    "tokens": "totalTokens", "all_tokens": "totalAllTokens", "ephemeral_5m_tokens": "totalEphemeral5mTokens",
    "ephemeral_1h_tokens": "totalEphemeral1hTokens",
    "long_context_input_tokens": "totalLongContextInputTokens",
    "long_context_output_tokens": "totalLongContextOutputTokens",
    "long_context_requests": "totalLongContextRequests",
}
_PLAIN_NAMES = {
    "requests": "requests", "input_tokens": "inputTokens", "output_tokens": "outputTokens",
    "cache_create_tokens": "cacheCreateTokens", "cache_read_tokens": "cacheReadTokens", "tokens": "tokens",
    "all_tokens": "allTokens", "ephemeral_5m_tokens": "ephemeral5mTokens",
    "ephemeral_1h_tokens": "ephemeral1hTokens", "long_context_input_tokens": "longContextInputTokens",
    "long_context_output_tokens": "longContextOutputTokens", "long_context_requests": "longContextRequests",
}


def decode_totals(data: dict[str, str], redis_key: str, *, total_names: bool = False,
                  with_cost: bool = False) -> UsageTotals:
    """A rollup hash as UsageTotals; missing `tokens`/`allTokens` are derived as upstream's readers do."""
    names = _TOTAL_NAMES if total_names else _PLAIN_NAMES
    values = {attr: codec.dec_int(data.get(field, ""), redis_key, field) for attr, field in names.items()}
    core = values["input_tokens"] + values["output_tokens"]
    values["tokens"] = values["tokens"] or core
    cache = values["cache_create_tokens"] + values["cache_read_tokens"]
    values["all_tokens"] = values["all_tokens"] or core + cache
    if not with_cost:
        return UsageTotals(**values)
    real = codec.dec_int(data.get("realCostMicro", ""), redis_key, "realCostMicro")
    rated = codec.dec_int(data.get("ratedCostMicro", ""), redis_key, "ratedCostMicro")
    return UsageTotals(**values, real_cost=real / 1e6, rated_cost=rated / 1e6)


def _model_fields_of_hourly(data: dict[str, str], redis_key: str) -> dict[str, UsageTotals]:
    """The `model:{m}:{field}` entries of an account hourly hash, per model (m may contain ':')."""
    grouped: dict[str, dict[str, str]] = {}
    for name, value in data.items():
        if name.startswith("model:"):
            m, _, field = name[len("model:"):].rpartition(":")
            grouped.setdefault(m, {})[field] = value
    return {m: decode_totals(fields, redis_key) for m, fields in sorted(grouped.items())}


def _float(value: str | None, key: str) -> float:
    """An INCRBYFLOAT string as parseFloat reads it (missing = 0)."""
    return 0.0 if value is None else codec.dec_float(value, key, "value")


class RedisUsage:
    """store.usage on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._offset = settings.timezone_offset

    @property
    def timezone_offset(self) -> int:
        """The TIMEZONE_OFFSET its buckets follow (dual mode names the keys a record() changed)."""
        return self._offset

    # --- writing ---------------------------------------------------------------------------------

    def record(self, key_id: str, *, model: str, input_tokens: int = 0, output_tokens: int = 0,
               cache_create_tokens: int = 0, cache_read_tokens: int = 0, ephemeral_5m_tokens: int = 0,
               ephemeral_1h_tokens: int = 0, long_context: bool = False, real_cost: float = 0.0,
               rated_cost: float = 0.0, account_id: str | None = None, account_type: str | None = None,
               at: datetime | None = None, weekly_reset_day: int | None = None,
               weekly_reset_hour: int | None = None) -> None:
        """Count one request in every upstream rollup, in one MULTI/EXEC.

        The Opus week needs the key's reset day and hour: pass them (the relay has the key from
        auth) or they are read from `apikey:{id}` first, as upstream does, for Opus requests only.
        """
        ev = rules.usage_event(
            key_id, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
            cache_create_tokens=cache_create_tokens, cache_read_tokens=cache_read_tokens,
            ephemeral_5m_tokens=ephemeral_5m_tokens, ephemeral_1h_tokens=ephemeral_1h_tokens,
            long_context=long_context, real_cost=real_cost, rated_cost=rated_cost, account_id=account_id,
            account_type=account_type, at=at, offset_hours=self._offset)
        with redis_errors():
            period = None
            if ev.opus:
                if weekly_reset_day is None or weekly_reset_hour is None:
                    day, hour = self._reset_of(key_id)
                    weekly_reset_day = day if weekly_reset_day is None else weekly_reset_day
                    weekly_reset_hour = hour if weekly_reset_hour is None else weekly_reset_hour
                period = rules.weekly_period(ev.at, self._offset, weekly_reset_day, weekly_reset_hour)
            pipe = self._r.pipeline(transaction=True)
            self.queue_record(pipe, ev, opus_period=period)
            pipe.execute()

    def _reset_of(self, key_id: str) -> tuple[int, int]:
        """The key's weeklyResetDay/Hour (upstream: parseInt(value || default))."""
        redis_key = self._k.api_key(key_id)
        stored = self._r.hmget(redis_key, ["weeklyResetDay", "weeklyResetHour"])
        day, hour = cast("list[str | None]", stored)
        return (codec.dec_int(day or "1", redis_key, "weeklyResetDay") or 1,
                codec.dec_int(hour or "0", redis_key, "weeklyResetHour"))

    def queue_record(self, pipe: Any, ev: rules.UsageEvent, *, opus_period: str | None) -> None:
        """Queue upstream's writes for one event, in upstream's order (tokens, cost, Opus, key, account)."""
        k, b, key_id, m = self._k, ev.buckets, ev.key_id, ev.model
        inp, out, cc, cr = ev.input_tokens, ev.output_tokens, ev.cache_create_tokens, ev.cache_read_tokens
        e5, e1, core, total = ev.ephemeral_5m_tokens, ev.ephemeral_1h_tokens, ev.core_tokens, ev.all_tokens
        hincr = pipe.hincrby
        real_micro = rules.micro(ev.real_cost) if ev.real_cost > 0 else 0
        rated_micro = rules.micro(ev.rated_cost) if ev.rated_cost > 0 else 0

        def model_fields(key: str, costs: bool, all_tokens: bool = True) -> None:
            hincr(key, "inputTokens", inp)
            hincr(key, "outputTokens", out)
            hincr(key, "cacheCreateTokens", cc)
            hincr(key, "cacheReadTokens", cr)
            if all_tokens:
                hincr(key, "allTokens", total)
            hincr(key, "requests", 1)
            hincr(key, "ephemeral5mTokens", e5)
            hincr(key, "ephemeral1hTokens", e1)
            if costs and ev.real_cost > 0:
                hincr(key, "realCostMicro", real_micro)
            if costs and ev.rated_cost > 0:
                hincr(key, "ratedCostMicro", rated_micro)

        def period_fields(key: str, long: bool) -> None:
            hincr(key, "tokens", core)
            model_fields(key, costs=False)
            if long and ev.long_context:
                hincr(key, "longContextInputTokens", inp)
                hincr(key, "longContextOutputTokens", out)
                hincr(key, "longContextRequests", 1)

        # incrementTokenUsage
        usage = k.usage_total(key_id)
        hincr(usage, "totalTokens", core)
        hincr(usage, "totalInputTokens", inp)
        hincr(usage, "totalOutputTokens", out)
        hincr(usage, "totalCacheCreateTokens", cc)
        hincr(usage, "totalCacheReadTokens", cr)
        hincr(usage, "totalAllTokens", total)
        hincr(usage, "totalEphemeral5mTokens", e5)
        hincr(usage, "totalEphemeral1hTokens", e1)
        if ev.long_context:
            hincr(usage, "totalLongContextInputTokens", inp)
            hincr(usage, "totalLongContextOutputTokens", out)
            hincr(usage, "totalLongContextRequests", 1)
        hincr(usage, "totalRequests", 1)
        daily, monthly, hourly = k.usage_daily(key_id, b.day), k.usage_monthly(key_id, b.month), \
            k.usage_hourly(key_id, b.hour)
        period_fields(daily, long=True)
        period_fields(monthly, long=False)
        model_daily, model_monthly, model_hourly = k.usage_model_daily(m, b.day), \
            k.usage_model_monthly(m, b.month), k.usage_model_hourly(m, b.hour)
        model_fields(model_daily, costs=False)
        model_fields(model_monthly, costs=False)
        key_model_daily, key_model_monthly, key_model_hourly = k.usage_key_model_daily(key_id, m, b.day), \
            k.usage_key_model_monthly(key_id, m, b.month), k.usage_key_model_hourly(key_id, m, b.hour)
        model_fields(key_model_daily, costs=True)
        model_fields(key_model_monthly, costs=True)
        model_fields(k.usage_key_model_alltime(key_id, m), costs=True, all_tokens=False)
        period_fields(hourly, long=False)
        model_fields(model_hourly, costs=False)
        model_fields(key_model_hourly, costs=True)
        minute = k.system_metrics_minute(b.minute)
        hincr(minute, "requests", 1)
        hincr(minute, "totalTokens", total)
        hincr(minute, "inputTokens", inp)
        hincr(minute, "outputTokens", out)
        hincr(minute, "cacheCreateTokens", cc)
        hincr(minute, "cacheReadTokens", cr)
        expire = pipe.expire
        for key, ttl in ((daily, TTL_DAILY), (monthly, TTL_MONTHLY), (hourly, TTL_HOURLY),
                         (model_daily, TTL_DAILY), (model_monthly, TTL_MONTHLY), (model_hourly, TTL_HOURLY),
                         (key_model_daily, TTL_DAILY), (key_model_monthly, TTL_MONTHLY),
                         (key_model_hourly, TTL_HOURLY), (minute, TTL_MINUTE)):
            expire(key, ttl)
        key_model = f"{key_id}:{m}"
        indexes = ((k.usage_daily_index(b.day), key_id, TTL_DAILY),
                   (k.usage_hourly_index(b.hour), key_id, TTL_HOURLY),
                   (k.usage_model_daily_index(b.day), m, TTL_DAILY),
                   (k.usage_model_hourly_index(b.hour), m, TTL_HOURLY),
                   (k.usage_model_monthly_index(b.month), m, TTL_MONTHLY))
        key_model_indexes = ((k.usage_key_model_daily_index(b.day), key_model, TTL_DAILY),
                             (k.usage_key_model_hourly_index(b.hour), key_model, TTL_HOURLY))
        for index, member, _ in indexes:
            pipe.sadd(index, member)
        pipe.sadd(k.usage_model_monthly_months, b.month)
        for index, member, _ in key_model_indexes:
            pipe.sadd(index, member)
        # upstream sends one DEL per marker; one DEL of all of them leaves the same keyspace
        pipe.delete(*(k.empty_marker(index) for index, _, _ in indexes + key_model_indexes))
        for index, _, ttl in indexes + key_model_indexes:
            expire(index, ttl)
        global_daily, global_monthly = k.usage_global_daily(b.day), k.usage_global_monthly(b.month)
        for key in (k.usage_global_total, global_daily, global_monthly):
            hincr(key, "requests", 1)
            hincr(key, "inputTokens", inp)
            hincr(key, "outputTokens", out)
            hincr(key, "cacheCreateTokens", cc)
            hincr(key, "cacheReadTokens", cr)
            hincr(key, "allTokens", total)
            hincr(key, "ephemeral5mTokens", e5)
            hincr(key, "ephemeral1hTokens", e1)
        expire(global_daily, TTL_DAILY)
        expire(global_monthly, TTL_MONTHLY)

        # incrementDailyCost, then incrementWeeklyOpusCost (both only for a request that cost something)
        if ev.real_cost > 0:
            incr = pipe.incrbyfloat
            rated, real = ev.rated_cost, ev.real_cost
            cost_daily, cost_monthly = k.cost_daily(key_id, b.day), k.cost_monthly(key_id, b.month)
            cost_hourly, real_daily = k.cost_hourly(key_id, b.hour), k.cost_real_daily(key_id, b.day)
            incr(cost_daily, rated)
            incr(cost_monthly, rated)
            incr(cost_hourly, rated)
            incr(k.cost_total(key_id), rated)
            incr(k.cost_real_total(key_id), real)
            incr(real_daily, real)
            expire(cost_daily, TTL_COST_DAILY)
            expire(cost_monthly, TTL_COST_MONTHLY)
            expire(cost_hourly, TTL_COST_HOURLY)
            expire(real_daily, TTL_COST_DAILY)
            if opus_period is not None:
                weekly, real_weekly = k.opus_weekly(key_id, opus_period), k.opus_real_weekly(key_id, opus_period)
                incr(weekly, rated)
                incr(k.opus_total(key_id), rated)
                incr(real_weekly, real)
                incr(k.opus_real_total(key_id), real)
                expire(weekly, TTL_OPUS_WEEKLY)
                expire(real_weekly, TTL_OPUS_WEEKLY)

        # setApiKey(lastUsedAt) + apiKeyIndexService.updateLastUsedAt
        pipe.eval(TOUCH_LAST_USED, 2, k.api_key(key_id), k.api_key_idx_last_used_at,
                  codec.enc_time(ev.at), rules.epoch_ms(ev.at), key_id, API_KEY_TTL_SECONDS)

        if ev.account_id is not None:
            self._queue_account(pipe, ev)

    def _queue_account(self, pipe: Any, ev: rules.UsageEvent) -> None:
        """upstream incrementAccountUsage for the account that served the request."""
        k, b, aid, m = self._k, ev.buckets, ev.account_id or "", ev.model
        hincr = pipe.hincrby
        counters = (("inputTokens", ev.input_tokens), ("outputTokens", ev.output_tokens),
                    ("cacheCreateTokens", ev.cache_create_tokens), ("cacheReadTokens", ev.cache_read_tokens),
                    ("ephemeral5mTokens", ev.ephemeral_5m_tokens), ("ephemeral1hTokens", ev.ephemeral_1h_tokens),
                    ("allTokens", ev.all_tokens), ("requests", 1))
        total = k.account_usage_total(aid)
        hincr(total, "totalTokens", ev.core_tokens)
        for field, n in counters:
            hincr(total, "total" + field[0].upper() + field[1:], n)
        daily, monthly, hourly = k.account_usage_daily(aid, b.day), k.account_usage_monthly(aid, b.month), \
            k.account_usage_hourly(aid, b.hour)
        for key in (daily, monthly, hourly):
            hincr(key, "tokens", ev.core_tokens)
            for field, n in counters:
                hincr(key, field, n)
        for field, n in counters:
            hincr(hourly, f"model:{m}:{field}", n)
        model_daily, model_monthly, model_hourly = k.account_usage_model_daily(aid, m, b.day), \
            k.account_usage_model_monthly(aid, m, b.month), k.account_usage_model_hourly(aid, m, b.hour)
        for key in (model_daily, model_monthly, model_hourly):
            for field, n in counters:
                hincr(key, field, n)
        expire = pipe.expire
        for key, ttl in ((daily, TTL_DAILY), (monthly, TTL_MONTHLY), (hourly, TTL_HOURLY),
                         (model_daily, TTL_DAILY), (model_monthly, TTL_MONTHLY), (model_hourly, TTL_HOURLY)):
            expire(key, ttl)
        account_model = f"{aid}:{m}"
        indexes = ((k.account_usage_hourly_index(b.hour), aid, TTL_HOURLY),
                   (k.account_usage_model_hourly_index(b.hour), account_model, TTL_HOURLY),
                   (k.account_usage_daily_index(b.day), aid, TTL_DAILY),
                   (k.account_usage_model_daily_index(b.day), account_model, TTL_DAILY))
        for index, member, ttl in indexes:
            pipe.sadd(index, member)
            expire(index, ttl)
        pipe.delete(*(k.empty_marker(index) for index, _, _ in indexes))
        if ev.long_context:
            hincr(total, "totalLongContextInputTokens", ev.input_tokens)
            hincr(total, "totalLongContextOutputTokens", ev.output_tokens)
            hincr(total, "totalLongContextRequests", 1)
            hincr(daily, "longContextInputTokens", ev.input_tokens)
            hincr(daily, "longContextOutputTokens", ev.output_tokens)
            hincr(daily, "longContextRequests", 1)

    # --- reading ---------------------------------------------------------------------------------

    def _usage_key(self, key_id: str, period: str, bucket: str) -> str:
        k = self._k
        if period == "daily":
            return k.usage_daily(key_id, bucket)
        if period == "monthly":
            return k.usage_monthly(key_id, bucket)
        if period == "hourly":
            return k.usage_hourly(key_id, bucket)
        return k.usage_total(key_id)

    def totals(self, key_id: str, *, period: str = "total", date: Any = None) -> UsageTotals:
        """One key's counters for a period bucket (`usage:{id}` or `usage:{period}:{id}:{bucket}`)."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        redis_key = self._usage_key(key_id, period, bucket)
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(redis_key))
        return decode_totals(data, redis_key, total_names=period == "total")

    def _key_models(self, key_id: str, period: str, bucket: str) -> list[str]:
        """Models this key may have used in the bucket, from upstream's index sets."""
        k = self._k
        if period in ("daily", "hourly"):
            index = k.usage_key_model_daily_index(bucket) if period == "daily" \
                else k.usage_key_model_hourly_index(bucket)
            prefix = f"{key_id}:"
            members = cast("set[str]", self._r.smembers(index))
            return sorted(member[len(prefix):] for member in members if member.startswith(prefix))
        if period == "monthly":
            return sorted(cast("set[str]", self._r.smembers(k.usage_model_monthly_index(bucket))))
        # No per-key model index for all time: every model seen in a month index that is still kept.
        months = cast("set[str]", self._r.smembers(k.usage_model_monthly_months))
        if not months:
            return []
        return sorted(cast("set[str]", self._r.sunion([k.usage_model_monthly_index(month) for month in months])))

    def by_model(self, key_id: str, *, period: str = "daily", date: Any = None) -> dict[str, UsageTotals]:
        """One key's counters per normalized model, with cost from the `*CostMicro` fields.

        For "total" the candidate models come from the monthly model indexes (kept 365 days): a model
        last used more than a year ago is not listed on Redis.
        """
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        k = self._k
        with redis_errors():
            models = self._key_models(key_id, period, bucket)
            if not models:
                return {}
            if period == "daily":
                keys = [k.usage_key_model_daily(key_id, m, bucket) for m in models]
            elif period == "monthly":
                keys = [k.usage_key_model_monthly(key_id, m, bucket) for m in models]
            elif period == "hourly":
                keys = [k.usage_key_model_hourly(key_id, m, bucket) for m in models]
            else:
                keys = [k.usage_key_model_alltime(key_id, m) for m in models]
            pipe = self._r.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            rows = pipe.execute()
        return {m: decode_totals(data, key, with_cost=True) for m, key, data in zip(models, keys, rows) if data}

    def _cost_key(self, key_id: str, period: str, bucket: str) -> str:
        k = self._k
        if period == "daily":
            return k.cost_daily(key_id, bucket)
        if period == "monthly":
            return k.cost_monthly(key_id, bucket)
        if period == "hourly":
            return k.cost_hourly(key_id, bucket)
        if period == "weekly":
            return k.opus_weekly(key_id, bucket)
        return k.cost_total(key_id)

    def cost(self, key_id: str, *, period: str = "total", date: Any = None, weekly_reset_day: int | None = None,
             weekly_reset_hour: int | None = None) -> float:
        """Rated cost (USD) of a key in a period; "weekly" is the Opus week (reset from the key unless given)."""
        rules.check_period(period, rules.COST_PERIODS)
        with redis_errors():
            day, hour = weekly_reset_day, weekly_reset_hour
            if period == "weekly" and not isinstance(date, str) and (day is None or hour is None):
                stored_day, stored_hour = self._reset_of(key_id)
                day = stored_day if day is None else day
                hour = stored_hour if hour is None else hour
            bucket = rules.bucket_for(period, date, self._offset, reset_day=1 if day is None else day,
                                      reset_hour=0 if hour is None else hour)
            redis_key = self._cost_key(key_id, period, bucket)
            return _float(cast("str | None", self._r.get(redis_key)), redis_key)

    def cost_limits(self, key_id: str, *, weekly_reset_day: int = 1, weekly_reset_hour: int = 0,
                    at: datetime | None = None) -> CostLimits:
        """Today's, this Opus week's and all-time rated cost in one MGET (auth step 11's keys)."""
        at = rules.as_utc(at) if at is not None else utcnow()     # one instant for both buckets
        day = rules.bucket_for("daily", at, self._offset)
        period = rules.bucket_for("weekly", at, self._offset, reset_day=weekly_reset_day,
                                  reset_hour=weekly_reset_hour)
        keys = [self._k.cost_daily(key_id, day), self._k.opus_weekly(key_id, period), self._k.cost_total(key_id)]
        with redis_errors():
            daily, weekly, total = cast("list[str | None]", self._r.mget(keys))
        return CostLimits(daily=_float(daily, keys[0]), weekly_opus=_float(weekly, keys[1]),
                          total=_float(total, keys[2]))

    # --- reports -----------------------------------------------------------------------------

    def account_totals(self, account_id: str, *, period: str = "total", date: Any = None) -> UsageTotals:
        """One account's counters for a period bucket (`account_usage:*`)."""
        rules.check_period(period)
        bucket = rules.bucket_for(period, date, self._offset)
        k = self._k
        redis_key = {"total": lambda: k.account_usage_total(account_id),
                     "daily": lambda: k.account_usage_daily(account_id, bucket),
                     "monthly": lambda: k.account_usage_monthly(account_id, bucket),
                     "hourly": lambda: k.account_usage_hourly(account_id, bucket)}[period]()
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(redis_key))
        return decode_totals(data, redis_key, total_names=period == "total")

    def account_usage(self, account_id: str, *, period: str = "daily", date: Any = None) -> UsageBreakdown:
        """One account's usage in a bucket, overall and per model; all-time per model is not kept upstream."""
        rules.check_period(period)
        if period == "total":
            raise NotSupported("upstream's Redis layout keeps no all-time per-model account usage; "
                               "use account_totals() or the MySQL backend")
        bucket = rules.bucket_for(period, date, self._offset)
        k = self._k
        totals = self.account_totals(account_id, period=period, date=bucket)
        with redis_errors():
            if period == "hourly":
                redis_key = k.account_usage_hourly(account_id, bucket)
                by_model = _model_fields_of_hourly(cast("dict[str, str]", self._r.hgetall(redis_key)), redis_key)
                return UsageBreakdown(bucket=bucket, totals=totals, by_model=by_model)
            if period == "daily":
                prefix = f"{account_id}:"
                models = sorted(member[len(prefix):] for member in
                                cast("set[str]", self._r.smembers(k.account_usage_model_daily_index(bucket)))
                                if member.startswith(prefix))
                keys = [k.account_usage_model_daily(account_id, m, bucket) for m in models]
            else:
                models = sorted(cast("set[str]", self._r.smembers(k.usage_model_monthly_index(bucket))))
                keys = [k.account_usage_model_monthly(account_id, m, bucket) for m in models]
            pipe = self._r.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            rows = pipe.execute() if keys else []
        by_model = {m: decode_totals(data, key) for m, key, data in zip(models, keys, rows) if data}
        return UsageBreakdown(bucket=bucket, totals=totals, by_model=by_model)

    def report_key_range(self, key_id: str, start_day: Any, end_day: Any) -> list[UsageRow]:
        """One key's usage and cost per day (days with usage only), from daily keys kept 32 days."""
        days = rules.days_between(rules.check_day("start_day", start_day), rules.check_day("end_day", end_day))
        k = self._k
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for day in days:
                pipe.hgetall(k.usage_daily(key_id, day))
                pipe.get(k.cost_daily(key_id, day))
                pipe.get(k.cost_real_daily(key_id, day))
            replies = pipe.execute()
        rows = []
        for i, day in enumerate(days):
            data, rated, real = replies[3 * i:3 * i + 3]
            if not data:
                continue
            usage = decode_totals(data, k.usage_daily(key_id, day))
            rows.append(UsageRow(bucket=day, key_id=key_id, usage=_with_cost(
                usage, real=_float(real, k.cost_real_daily(key_id, day)),
                rated=_float(rated, k.cost_daily(key_id, day)))))
        return rows

    def model_usage_by_day(self, start_day: Any, end_day: Any) -> list[UsageRow]:
        """Usage per model per day across all keys, from `usage:model:daily:*` (no cost kept there)."""
        days = rules.days_between(rules.check_day("start_day", start_day), rules.check_day("end_day", end_day))
        k = self._k
        with redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for day in days:
                pipe.smembers(k.usage_model_daily_index(day))
            pairs = [(day, m) for day, members in zip(days, pipe.execute()) for m in sorted(members)]
            pipe = self._r.pipeline(transaction=False)
            for day, m in pairs:
                pipe.hgetall(k.usage_model_daily(m, day))
            replies = pipe.execute() if pairs else []
        return [UsageRow(bucket=day, model=m, usage=decode_totals(data, k.usage_model_daily(m, day)))
                for (day, m), data in zip(pairs, replies) if data]

    def top_keys_by_cost(self, *, period: str = "daily", date: Any = None, start_day: Any = None,
                         end_day: Any = None, limit: int = 10) -> list[UsageRow]:
        """Not kept cheaply in upstream's layout: ranking needs every key's counters."""
        raise NotSupported("top_keys_by_cost needs every key's cost counters; upstream's Redis layout "
                           "has no index for it (use the MySQL backend)")


def _with_cost(usage: UsageTotals, *, real: float, rated: float) -> UsageTotals:
    return replace(usage, real_cost=real, rated_cost=rated)

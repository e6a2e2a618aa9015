"""Rate-limit windows on Redis in upstream's layout (§6): four STRING keys per API key, one PX.

rate_limit:window_start:{keyId} (epoch ms), rate_limit:requests:{keyId}, rate_limit:tokens:{keyId},
rate_limit:cost:{keyId} (INCRBYFLOAT text). Upstream runs the window check as separate commands;
here steps 1-3 (restart a missing or elapsed window, check requests, then tokens, then cost, then
INCR requests) are one Lua script, so concurrent requests cannot both pass the last free slot.
"now" is the Redis server's TIME (upstream: the Node host's clock); windows written by upstream are
read as they are. Step 4 (tokens and cost after the response) is add_usage(), also one script.
"""
from __future__ import annotations

import re
from datetime import timedelta

import redis

from .. import limit_rules as rules
from ..errors import DataError
from ..records import RateLimitResult, RateLimitWindow
from . import codec
from .client import redis_errors
from .keys import Keys

_DATA_ERROR = re.compile(r"RELAYSTORE_DATA (\d)")

# KEYS: window_start, requests, tokens, cost. ARGV: window ms, max requests, max tokens, max cost.
# Returns {reason or '', requests, tokens text, cost text, window start ms}; a stored value that is
# not a number fails with "RELAYSTORE_DATA <index of the key>" rather than being guessed at.
CHECK_RATE_LIMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local ws = nil
if raw then
  ws = tonumber(raw)
  if not ws then return redis.error_reply('RELAYSTORE_DATA 1') end
end
if not ws or now - ws >= window then
  ws = now
  redis.call('SET', KEYS[1], string.format('%d', ws), 'PX', window)
  redis.call('SET', KEYS[2], '0', 'PX', window)
  redis.call('SET', KEYS[3], '0', 'PX', window)
  redis.call('SET', KEYS[4], '0', 'PX', window)
end
local values = {}
for i = 2, 4 do
  local text = redis.call('GET', KEYS[i]) or '0'
  if not tonumber(text) then return redis.error_reply('RELAYSTORE_DATA ' .. i) end
  values[i] = text
end
local requests, tokens, cost = tonumber(values[2]), tonumber(values[3]), tonumber(values[4])
local max_requests, max_tokens, max_cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local reason = ''
if max_requests > 0 and requests >= max_requests then
  reason = 'requests'
elseif max_tokens > 0 and tokens >= max_tokens then
  reason = 'tokens'
elseif max_tokens <= 0 and max_cost > 0 and cost >= max_cost then
  reason = 'cost'
end
if reason == '' then
  requests = redis.call('INCR', KEYS[2])
  if redis.call('PTTL', KEYS[2]) == -1 then
    redis.call('PEXPIRE', KEYS[2], math.max(1, ws + window - now))
  end
end
return {reason, requests, values[3], values[4], string.format('%d', ws)}
"""

# KEYS: window_start, tokens, cost. ARGV: tokens, cost text. Adds only inside a live window (upstream
# adds unconditionally, which leaves TTL-less counters behind once the window is gone).
ADD_RATE_LIMIT_USAGE = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local added = 0
if tonumber(ARGV[1]) > 0 then
  redis.call('INCRBY', KEYS[2], ARGV[1])
  added = 1
  if ttl > 0 and redis.call('PTTL', KEYS[2]) == -1 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[2])
  added = 1
  if ttl > 0 and redis.call('PTTL', KEYS[3]) == -1 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
return added
"""


class RedisRateLimits:
    """store.rate_limits on Redis (see module docstring)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._check = client.register_script(CHECK_RATE_LIMIT)
        self._add = client.register_script(ADD_RATE_LIMIT_USAGE)

    def _keys(self, key_id: str) -> list[str]:
        rules.check_id("key_id", key_id)
        return [self.keys.rate_limit_window_start(key_id), self.keys.rate_limit_requests(key_id),
                self.keys.rate_limit_tokens(key_id), self.keys.rate_limit_cost(key_id)]

    def check_and_increment(self, key_id: str, *, window_minutes: float, max_requests: int = 0,
                            max_tokens: int = 0, max_cost: float = 0.0) -> RateLimitResult:
        """Upstream's steps 1-3 as one atomic script: restart the window if due, check, count the request."""
        keys = self._keys(key_id)
        window = rules.window_ms(window_minutes)
        args: list[int | str] = [window, rules.check_count("max_requests", max_requests),
                                 rules.check_count("max_tokens", max_tokens),
                                 rules.decimal_text(rules.check_cost("max_cost", max_cost))]
        with redis_errors():
            try:
                reason, requests, tokens, cost, start = self._check(keys=keys, args=args)
            except redis.ResponseError as exc:
                raise self._data_error(exc, keys) from None
        window_start = rules.from_epoch_ms(int(start))
        return RateLimitResult(
            allowed=not reason, reason=reason or None, requests=int(requests),
            tokens=codec.dec_int(tokens, keys[2], "value"), cost=codec.dec_float(cost, keys[3], "value"),
            window_start=window_start, reset_at=window_start + timedelta(milliseconds=window))

    def add_usage(self, key_id: str, *, tokens: int = 0, cost: float = 0.0) -> bool:
        """Step 4, after the response: add tokens and rated cost to the live window; False if none is live."""
        keys = self._keys(key_id)
        rules.check_count("tokens", tokens)
        rules.check_cost("cost", cost)
        if tokens == 0 and cost == 0:
            return False
        with redis_errors():
            return bool(self._add(keys=[keys[0], keys[2], keys[3]], args=[tokens, rules.decimal_text(cost)]))

    def current(self, key_id: str, *, window_minutes: float) -> RateLimitWindow | None:
        """The live window's counters, or None when there is none (missing, or older than the window)."""
        keys = self._keys(key_id)
        window = rules.window_ms(window_minutes)
        with redis_errors():
            pipe = self.client.pipeline(transaction=False)
            pipe.time()
            pipe.mget(keys)
            (seconds, micros), (start, requests, tokens, cost) = pipe.execute()
        if start is None:
            return None
        start_ms = codec.dec_int(start, keys[0], "value")
        if seconds * 1000 + micros // 1000 - start_ms >= window:
            return None
        window_start = rules.from_epoch_ms(start_ms)
        return RateLimitWindow(
            requests=codec.dec_int(requests or "", keys[1], "value"),
            tokens=codec.dec_int(tokens or "", keys[2], "value"), cost=codec.dec_float(cost or "", keys[3], "value"),
            window_start=window_start, reset_at=window_start + timedelta(milliseconds=window))

    def reset(self, key_id: str) -> None:
        """End the key's window now (all four keys go; the next check starts a new one)."""
        keys = self._keys(key_id)
        with redis_errors():
            self.client.delete(*keys)

    @staticmethod
    def _data_error(exc: redis.ResponseError, keys: list[str]) -> Exception:
        match = _DATA_ERROR.search(str(exc))
        if match:
            return DataError(f"{keys[int(match.group(1)) - 1]}: stored value is not a number")
        return exc

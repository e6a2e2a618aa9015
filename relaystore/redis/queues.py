"""Concurrency-queue bookkeeping on Redis in upstream's layout (§5), each write one Lua script as upstream's.

concurrency:queue:{keyId} STRING waiter count (TTL ceil(timeoutMs/1000)+30 s, re-armed by enter),
concurrency:queue:stats:{keyId} HASH of outcome counters (7 d), concurrency:queue:wait_times:{keyId}
and :global LISTs of wait samples in ms, newest first (500 / 2000 kept, 1 d).
enter() adds an optional atomic size check (`max_waiting`) that upstream does as a separate read.
"""
from __future__ import annotations

from typing import cast

import redis

from .. import limit_rules as rules
from ..errors import DataError
from ..records import QueueStats
from . import codec
from .client import redis_errors
from .keys import Keys

# ARGV: TTL seconds, max waiting (0 = none). Returns the new count, or 0 when the queue is full.
ENTER_QUEUE = """
local max = tonumber(ARGV[2])
if max > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= max then
  return 0
end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""

# Upstream's decrement: DECR, and DEL once at or below zero.
LEAVE_QUEUE = """
local count = redis.call('DECR', KEYS[1])
if count <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return count
"""

# ARGV: field, TTL seconds.
RECORD_QUEUE_STAT = """
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return count
"""

# KEYS: the key's list [, the global list]; ARGV: sample ms, TTL s, per-key keep, global keep.
RECORD_WAIT_TIME = """
for i, key in ipairs(KEYS) do
  redis.call('LPUSH', key, ARGV[1])
  redis.call('LTRIM', key, 0, tonumber(ARGV[2 + i]) - 1)
  redis.call('EXPIRE', key, ARGV[2])
end
return 1
"""


class RedisQueues:
    """store.queues on Redis (see module docstring)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._enter = client.register_script(ENTER_QUEUE)
        self._leave = client.register_script(LEAVE_QUEUE)
        self._record_stat = client.register_script(RECORD_QUEUE_STAT)
        self._record_wait = client.register_script(RECORD_WAIT_TIME)

    def enter(self, key_id: str, *, timeout_ms: float = rules.QUEUE_DEFAULT_TIMEOUT_MS, max_waiting: int = 0) -> int:
        """Count one more waiter and return the new count; 0 (not counted) if `max_waiting` are waiting."""
        rules.check_id("key_id", key_id)
        ttl = rules.queue_ttl_seconds(timeout_ms)
        rules.check_count("max_waiting", max_waiting)
        with redis_errors():
            return int(self._enter(keys=[self.keys.concurrency_queue(key_id)], args=[ttl, max_waiting]))

    def leave(self, key_id: str) -> int:
        """Count one waiter less and return how many are left (the counter is deleted at zero)."""
        rules.check_id("key_id", key_id)
        with redis_errors():
            return int(self._leave(keys=[self.keys.concurrency_queue(key_id)]))

    def waiting(self, key_id: str) -> int:
        """Requests now waiting for a lease of this key."""
        key = self.keys.concurrency_queue(rules.check_id("key_id", key_id))
        with redis_errors():
            value = cast("str | None", self.client.get(key))  # decode_responses=True: str, never bytes
        return 0 if value is None else max(0, codec.dec_int(value, key, "value"))

    def clear(self, key_id: str) -> None:
        """Forget the key's waiter count (upstream clearConcurrencyQueue)."""
        with redis_errors():
            self.client.delete(self.keys.concurrency_queue(rules.check_id("key_id", key_id)))

    def clear_all(self) -> int:
        """Delete every waiter counter, keeping stats and samples (upstream does this at startup)."""
        pattern = self.keys.concurrency_queue("*")
        skip = (self.keys.concurrency_queue_stats(""), self.keys.concurrency_queue_wait_times(""))
        cleared = 0
        with redis_errors():
            batch: list[str] = []
            for key in self.client.scan_iter(match=pattern, count=1000):
                if not key.startswith(skip):
                    batch.append(key)
                if len(batch) >= 500:
                    cleared += int(self.client.delete(*batch))
                    batch = []
            if batch:
                cleared += int(self.client.delete(*batch))
        return cleared

    def record_stat(self, key_id: str, outcome: str) -> int:
        """Add one to an outcome counter (entered, success, timeout, ...); returns its new value."""
        rules.check_id("key_id", key_id)
        rules.check_outcome(outcome)
        with redis_errors():
            return int(self._record_stat(keys=[self.keys.concurrency_queue_stats(key_id)],
                                         args=[outcome, rules.QUEUE_STATS_TTL_SECONDS]))

    def stats(self, key_id: str) -> QueueStats:
        """The key's outcome counters; zeros when none were recorded within the last 7 days."""
        key = self.keys.concurrency_queue_stats(rules.check_id("key_id", key_id))
        with redis_errors():
            raw = cast("dict[str, str]", self.client.hgetall(key))
        return QueueStats(**{name: codec.dec_int(raw.get(name, ""), key, name) for name in rules.QUEUE_OUTCOMES})

    def record_wait(self, key_id: str, wait_ms: int, *, include_global: bool = True) -> None:
        """Keep one wait sample in the key's list and (by default) the global list; one script call."""
        rules.check_id("key_id", key_id)
        rules.check_count("wait_ms", wait_ms)
        keys = [self.keys.concurrency_queue_wait_times(key_id)]
        if include_global:
            keys.append(self.keys.concurrency_queue_wait_times(rules.GLOBAL_WAIT_LIST))
        with redis_errors():
            self._record_wait(keys=keys, args=[wait_ms, rules.WAIT_TIMES_TTL_SECONDS,
                                               rules.WAIT_SAMPLES_PER_KEY, rules.WAIT_SAMPLES_GLOBAL])

    def wait_times(self, key_id: str) -> list[int]:
        """The key's wait samples in ms, newest first (at most 500)."""
        return self._samples(self.keys.concurrency_queue_wait_times(rules.check_id("key_id", key_id)))

    def global_wait_times(self) -> list[int]:
        """The relay-wide wait samples in ms, newest first (at most 2000)."""
        return self._samples(self.keys.concurrency_queue_wait_times(rules.GLOBAL_WAIT_LIST))

    def _samples(self, key: str) -> list[int]:
        with redis_errors():
            values = cast("list[str]", self.client.lrange(key, 0, -1))
        try:
            return [int(float(v)) for v in values]
        except ValueError:
            raise DataError(f"{key}: a wait sample is not a number") from None

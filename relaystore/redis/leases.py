"""Concurrency leases on Redis in upstream's layout: concurrency:{keyId} ZSET, one Lua script per operation.

Member = request id, score = lease expiry in epoch ms; the key's PEXPIRE is max(lease + 30 s grace,
60 s) so an abandoned set disappears by itself (§5). Every script prunes expired members first, so
an expired lease never counts and a crashed holder's lease frees itself at expiry.

Differences from upstream, both deliberate:
- acquire() checks the count before adding instead of adding, counting and releasing when over the
  limit. Both happen inside one script, so to other clients the result is the same, except that the
  set never holds more than `limit` members even for an instant.
- "now" is the Redis server's TIME, not the caller's clock (upstream uses the Node process's
  Date.now()). With several relay hosts, leases then expire by one clock, however far the hosts'
  clocks drift. Scores stay epoch ms, so sets written by upstream and by relaystore mix freely; hosts
  whose clocks differ from the server's by d ms see leases expire d ms early or late, as they do
  among upstream hosts today.
Scripts are registered once per store (EVALSHA; redis-py reloads them after a SCRIPT FLUSH). The
client never retries, so a lost reply cannot apply an acquire twice.
"""
from __future__ import annotations

import redis

from .. import limit_rules as rules
from .client import redis_errors
from .keys import Keys

# Shared prologue: server time in ms, then drop expired members (score <= now, as upstream).
_PRUNE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
"""

# ARGV: request id, lease ms, limit (0 = none), key TTL ms. Returns {acquired 0/1, live count}.
ACQUIRE_LEASE = _PRUNE + """
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
local count = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[3])
if not held and limit > 0 and count >= limit then
  return {0, count}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if not held then count = count + 1 end
return {1, count}
"""

# ARGV: request id, lease ms, key TTL ms. Returns 1 if the lease was live and is extended, else 0.
REFRESH_LEASE = _PRUNE + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# ARGV: request id. Returns 1 if a live lease was removed; pruning first makes an expired one 0.
# An emptied ZSET is deleted by Redis itself (upstream's explicit DEL is implied).
RELEASE_LEASE = _PRUNE + """
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

COUNT_LEASES = _PRUNE + """
return redis.call('ZCARD', KEYS[1])
"""


class RedisLeases:
    """store.leases on Redis (see module docstring)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._acquire = client.register_script(ACQUIRE_LEASE)
        self._refresh = client.register_script(REFRESH_LEASE)
        self._release = client.register_script(RELEASE_LEASE)
        self._count = client.register_script(COUNT_LEASES)

    def acquire(self, key_id: str, request_id: str, *, limit: int, ttl_seconds: float) -> bool:
        """Take a lease if fewer than `limit` live leases exist (0 = unlimited); one script call."""
        rules.check_id("key_id", key_id)
        rules.check_id("request_id", request_id)
        rules.check_limit(limit)
        millis = rules.lease_ms(ttl_seconds)
        with redis_errors():
            acquired, _count = self._acquire(keys=[self.keys.concurrency(key_id)],
                                             args=[request_id, millis, limit, rules.lease_key_ttl_ms(millis)])
        return bool(acquired)

    def refresh(self, key_id: str, request_id: str, *, ttl_seconds: float) -> bool:
        """Extend a live lease to now + ttl; False (and no change) if it is unknown or expired."""
        rules.check_id("key_id", key_id)
        rules.check_id("request_id", request_id)
        millis = rules.lease_ms(ttl_seconds)
        with redis_errors():
            return bool(self._refresh(keys=[self.keys.concurrency(key_id)],
                                      args=[request_id, millis, rules.lease_key_ttl_ms(millis)]))

    def release(self, key_id: str, request_id: str) -> bool:
        """Drop a lease; False if it was unknown or already expired (a harmless no-op)."""
        rules.check_id("key_id", key_id)
        rules.check_id("request_id", request_id)
        with redis_errors():
            return bool(self._release(keys=[self.keys.concurrency(key_id)], args=[request_id]))

    def count(self, key_id: str) -> int:
        """Live leases of a key (prunes expired ones, as upstream's count does)."""
        rules.check_id("key_id", key_id)
        with redis_errors():
            return int(self._count(keys=[self.keys.concurrency(key_id)]))

    def purge_expired(self) -> int:
        """Nothing to sweep on Redis: scripts prune on access and idle sets expire by PEXPIRE; returns 0."""
        return 0

"""Redis client factory and the one place redis-py errors become relaystore errors."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from ..config import Settings
from ..errors import BackendError, BackendUnavailable, Conflict, RelayStoreError


def make_client(settings: Settings) -> redis.Redis:
    """One pooled client per store; decode_responses=True; hiredis is used automatically if installed.

    No automatic retries: redis-py would re-send a command (HINCRBY, a lease acquire) after a
    timeout that the server may already have applied, which would count it twice.
    """
    pool = redis.ConnectionPool.from_url(
        settings.redis_connection_url(),
        decode_responses=True,
        max_connections=settings.redis_pool_size,
        socket_connect_timeout=5,
        socket_timeout=10,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


def translate(exc: BaseException) -> RelayStoreError:
    """Map a redis-py exception to relaystore's hierarchy."""
    if isinstance(exc, RelayStoreError):
        return exc
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return BackendUnavailable(f"Redis unavailable: {exc}")
    if isinstance(exc, redis.WatchError):
        return Conflict("Redis key changed concurrently; retries exhausted")
    if isinstance(exc, redis.RedisError):
        return BackendError(f"Redis error: {exc}")
    return BackendError(f"Redis client failure: {exc!r}")


@contextmanager
def redis_errors() -> Iterator[None]:
    """Translate driver errors raised inside the block (every DAO method runs in one)."""
    try:
        yield
    except RelayStoreError:
        raise
    except redis.RedisError as exc:
        raise translate(exc) from exc

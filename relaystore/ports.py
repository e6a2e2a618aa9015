"""The contract each backend implements: one Protocol per entity family (spec/api.md)."""
from __future__ import annotations

from typing import Any, Protocol

from .records import ApiKey, AuthResult, Page


class ApiKeyStore(Protocol):
    """store.api_keys. Differences between backends are listed here, nowhere else.

    After a soft delete, upstream's Redis layout drops the key's hash from apikey:hash_map, so
    Redis authenticate() says "unknown" where MySQL (which keeps the row) says "deleted"; both refuse.
    """

    def create(self, name: str, **settings: Any) -> tuple[ApiKey, str]: ...     # (record, raw key)
    def get(self, key_id: str) -> ApiKey | None: ...                            # None when missing
    def authenticate(self, raw_key: str) -> AuthResult: ...                     # one round trip on MySQL
    def update(self, key_id: str, **fields: Any) -> ApiKey: ...                 # raises NotFound
    def delete(self, key_id: str, *, deleted_by: str = ..., deleted_by_type: str = ...) -> ApiKey: ...
    def restore(self, key_id: str, *, restored_by: str = ..., restored_by_type: str = ...) -> ApiKey: ...
    def purge(self, key_id: str) -> None: ...                                   # permanent; deleted keys only
    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]: ...


# --- concurrency leases, queues, rate-limit windows (issue 5) ---
from .records import QueueStats, RateLimitResult, RateLimitWindow  # noqa: E402  (own line: fewer merge conflicts)


class LeaseStore(Protocol):
    """store.leases: per-key concurrency leases (upstream concurrency:{keyId}, §5).

    acquire() is one atomic step on both backends: never more than `limit` live leases for a key,
    whatever the number of callers and processes (upstream adds, counts, then releases when over;
    relaystore checks before adding, inside the same atomic step). `limit=0` means unlimited.
    Re-acquiring a live lease with the same request id extends it and returns True. Expiry follows
    the server's clock on both backends. Per-account leases use limit_rules.account_lease_id().
    """

    def acquire(self, key_id: str, request_id: str, *, limit: int, ttl_seconds: float) -> bool: ...
    def refresh(self, key_id: str, request_id: str, *, ttl_seconds: float) -> bool: ...  # False if not live
    def release(self, key_id: str, request_id: str) -> bool: ...   # False for unknown or expired
    def count(self, key_id: str) -> int: ...                        # live leases only
    def purge_expired(self) -> int: ...                              # MySQL sweep; Redis keys expire by TTL


class QueueStore(Protocol):
    """store.queues: upstream's concurrency-queue bookkeeping (concurrency:queue:*, §5)."""

    def enter(self, key_id: str, *, timeout_ms: float = ..., max_waiting: int = 0) -> int: ...  # 0 = refused
    def leave(self, key_id: str) -> int: ...                        # waiters left, never below 0
    def waiting(self, key_id: str) -> int: ...
    def clear(self, key_id: str) -> None: ...
    def clear_all(self) -> int: ...                                  # upstream does this at startup
    def record_stat(self, key_id: str, outcome: str) -> int: ...    # new value of that counter
    def stats(self, key_id: str) -> QueueStats: ...
    def record_wait(self, key_id: str, wait_ms: int, *, include_global: bool = True) -> None: ...
    def wait_times(self, key_id: str) -> list[int]: ...             # newest first, at most 500
    def global_wait_times(self) -> list[int]: ...                   # newest first, at most 2000


class RateLimitStore(Protocol):
    """store.rate_limits: per-key fixed windows of requests, tokens and cost (upstream rate_limit:*, §6)."""

    def check_and_increment(self, key_id: str, *, window_minutes: float, max_requests: int = 0,
                            max_tokens: int = 0, max_cost: float = 0.0) -> RateLimitResult: ...
    def add_usage(self, key_id: str, *, tokens: int = 0, cost: float = 0.0) -> bool: ...  # False: no live window
    def current(self, key_id: str, *, window_minutes: float) -> RateLimitWindow | None: ...
    def reset(self, key_id: str) -> None: ...

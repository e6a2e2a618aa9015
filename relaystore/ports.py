"""The contract each backend implements: one Protocol per entity family (spec/api.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from .records import (
    Account,
    AccountBalance,
    AccountGroup,
    AdminCredentials,
    AdminSession,
    ApiKey,
    AuthResult,
    CostLimits,
    OAuthSession,
    Page,
    RequestDetail,
    UsageBreakdown,
    UsageRow,
    UsageTotals,
    User,
    UserSession,
)


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
    def put(self, key: ApiKey) -> None: ...                                     # exact record, create or replace
    def list(self, *, page: int = 1, page_size: int = 50, active: bool | None = None, tag: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[ApiKey]: ...


class AccountStore(Protocol):
    """store.accounts: every upstream platform family (account_rules.PLATFORMS), secrets decrypted.

    Fields are set by snake_case name when typed (name, is_active, priority, ...) and by upstream
    camelCase name otherwise (apiKey=..., proxy={...}) or through data={...}; None removes a field.
    Backend difference: deleting an account removes it from its group platform's groups on MySQL
    and, as upstream does, from every group's member set on Redis (ids are UUIDs: the same).
    """

    def create(self, platform: str, **fields: Any) -> Account: ...                  # AlreadyExists for a taken id
    def get(self, platform: str, account_id: str) -> Account | None: ...            # None when missing
    def update(self, platform: str, account_id: str, **fields: Any) -> Account: ... # raises NotFound
    def delete(self, platform: str, account_id: str) -> None: ...                   # raises NotFound
    def list(self, platform: str) -> list[Account]: ...                             # oldest first
    def list_schedulable(self, platform: str, *, group_id: str | None = None) -> list[Account]: ...


class AccountGroupStore(Protocol):
    """store.account_groups: upstream's account groups; members are account ids of the group's platform."""

    def create(self, platform: str, name: str, description: str = ..., **extra: Any) -> AccountGroup: ...
    def get(self, group_id: str) -> AccountGroup | None: ...
    def update(self, group_id: str, **fields: Any) -> AccountGroup: ...             # raises NotFound
    def delete(self, group_id: str) -> None: ...                                    # Conflict if not empty
    def list(self, platform: str | None = None) -> list[AccountGroup]: ...          # newest first
    def add_member(self, group_id: str, account_id: str, *, platform: str | None = None) -> None: ...
    def remove_member(self, group_id: str, account_id: str) -> None: ...
    def members(self, group_id: str) -> list[str]: ...
    def groups_of(self, platform: str, account_id: str) -> list[AccountGroup]: ...
# --- users, sessions, admin, settings, request details (issue 4 part B) ----------------------------
# TTL'd records: Redis expires them itself; MySQL rows carry expires_at, every read filters on the
# database clock, and `relaystore db purge-expired` deletes them. Neither backend returns an
# expired record.

class UserStore(Protocol):
    """store.users: upstream's end users (user:{id} JSON, username:{username} -> id)."""

    def create(self, username: str, *, user_id: str | None = None, **fields: Any) -> User: ...  # AlreadyExists
    def get(self, user_id: str) -> User | None: ...
    def get_by_username(self, username: str) -> User | None: ...
    def update(self, user_id: str, **fields: Any) -> User: ...                   # NotFound; username is fixed
    def delete(self, user_id: str) -> User: ...          # soft delete as upstream; ends the user's sessions
    def purge(self, user_id: str) -> None: ...            # permanent; soft-deleted users only
    def list(self, *, page: int = 1, page_size: int = 50, role: str | None = None,
             is_active: bool | None = None) -> Page[User]: ...                   # newest first


class SessionStore(Protocol):
    """store.sessions: sticky, admin, user and OAuth sessions, each with upstream's default TTL."""

    def get_sticky(self, session_hash: str) -> str | None: ...
    def set_sticky(self, session_hash: str, account_id: str, *, ttl_seconds: float = ...) -> None: ...
    def renew_sticky(self, session_hash: str, *, ttl_seconds: float = ...,
                     threshold_seconds: float = ...) -> bool: ...               # False when gone
    def delete_sticky(self, session_hash: str) -> bool: ...

    def create_admin_session(self, username: str, *, ttl_seconds: float = ..., token: str | None = None,
                             extra: dict[str, Any] | None = None) -> AdminSession: ...
    def get_admin_session(self, token: str) -> AdminSession | None: ...
    def touch_admin_session(self, token: str, *, ttl_seconds: float = ...) -> AdminSession | None: ...
    def delete_admin_session(self, token: str) -> bool: ...

    def create_user_session(self, user_id: str, *, ttl_seconds: float = ..., token: str | None = None,
                            data: dict[str, Any] | None = None) -> UserSession: ...
    def get_user_session(self, token: str) -> UserSession | None: ...
    def delete_user_session(self, token: str) -> bool: ...
    def delete_user_sessions(self, user_id: str) -> int: ...

    def create_oauth_session(self, *, code_verifier: str = "", state: str = "", code_challenge: str = "",
                             proxy: dict[str, Any] | None = None, platform: str = "",
                             ttl_seconds: float = ..., session_id: str | None = None,
                             **extra: Any) -> OAuthSession: ...
    def get_oauth_session(self, session_id: str) -> OAuthSession | None: ...
    def delete_oauth_session(self, session_id: str) -> bool: ...


class AdminStore(Protocol):
    """store.admin: the admin login (session:admin_credentials); a bcrypt hash, never a password."""

    def get_credentials(self) -> AdminCredentials | None: ...
    def set_credentials(self, username: str, password_hash: str, *, created_at: datetime | None = None,
                        last_login: datetime | None = None, updated_at: datetime | None = None,
                        extra: dict[str, Any] | None = None,
                        ttl_seconds: float | None = ...) -> AdminCredentials: ...   # None: no expiry
    def delete_credentials(self) -> bool: ...


class SettingsStore(Protocol):
    """store.system_settings (store.settings is the configuration): known singleton strings (webhook_config:default, system:service_rates, ...)."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...
    def get_json(self, name: str) -> Any: ...                 # None when missing; DataError if not JSON
    def set_json(self, name: str, value: Any) -> None: ...
    def get_webhook_config(self) -> dict[str, Any] | None: ...
    def set_webhook_config(self, config: dict[str, Any]) -> None: ...
    def get_service_rates(self) -> dict[str, Any] | None: ...
    def set_service_rates(self, rates: dict[str, Any]) -> None: ...
    def get_oem_settings(self) -> dict[str, Any] | None: ...
    def set_oem_settings(self, settings: dict[str, Any]) -> None: ...


class RequestDetailStore(Protocol):
    """store.request_details: per-request captures with upstream's retention, listed by UTC day."""

    def put(self, detail: dict[str, Any] | RequestDetail, *, retention_hours: int = ...,
            ttl_seconds: float | None = None) -> RequestDetail: ...            # insert or replace
    def get(self, request_id: str) -> RequestDetail | None: ...
    def delete(self, request_id: str) -> bool: ...
    def list_day(self, day: str, *, limit: int = 50, offset: int = 0,
                 newest_first: bool = True) -> list[RequestDetail]: ...


class AccountStateStore(Protocol):
    """store.account_state: balance caches, balance-script config, test history beside each account."""

    def get_balance(self, platform: str, account_id: str) -> AccountBalance | None: ...
    def set_balance(self, platform: str, account_id: str, *, balance: float | None, currency: str = "USD",
                    last_refresh_at: datetime | None = None, query_method: str = "api", status: str = "success",
                    error_message: str = "", raw_data: Any = None, quota: Any = None,
                    ttl_seconds: float = ...) -> AccountBalance: ...
    def get_local_balance(self, platform: str, account_id: str) -> Any: ...          # the estimate or None
    def set_local_balance(self, platform: str, account_id: str, estimate: Any, *,
                          ttl_seconds: float = ...) -> None: ...
    def delete_balance(self, platform: str, account_id: str) -> bool: ...             # both caches
    def get_balance_script(self, platform: str, account_id: str) -> Any: ...
    def set_balance_script(self, platform: str, account_id: str, config: Any) -> None: ...
    def delete_balance_script(self, platform: str, account_id: str) -> bool: ...
    def add_test_result(self, platform: str, account_id: str, result: Any) -> None: ...  # newest 5 kept
    def list_test_results(self, platform: str, account_id: str) -> list[Any]: ...      # newest first
    def get_last_test(self, platform: str, account_id: str) -> datetime | None: ...
    def set_last_test(self, platform: str, account_id: str, at: datetime | None = None) -> datetime: ...
    def delete_test_state(self, platform: str, account_id: str) -> None: ...
class UsageStore(Protocol):
    """store.usage: one request's usage into every rollup, and the reads over them (usage_rules has the rules).

    `date` is a bucket string (`2025-07-30`, `2025-07`, `2025-07-30:09`, weekly `2025-07-28T00`), a
    datetime (naive = UTC) placed in TIMEZONE_OFFSET, or None for the current bucket.
    Differences between backends, all from what upstream's Redis layout keeps:
    - Redis lists per-model all-time usage only for models in a month index kept 365 days.
    - Redis keeps no cost in the all-keys per-model rollups nor in account rollups:
      model_usage_by_day() and account_usage() have real_cost/rated_cost None there; MySQL fills them.
    - Redis answers reports from keys with TTLs (daily 32 d, hourly 7 d, monthly 365 d); MySQL keeps
      every row. top_keys_by_cost() and account_usage(period="total") raise NotSupported on Redis.
    - The weekly Opus cost is the upstream key of the week the request fell in on Redis; on MySQL it
      is summed over the week's hours at read time (the same unless a key's reset day changes).
    - Cost sums: Redis adds floats (INCRBYFLOAT), MySQL exact decimals to 1e-10 USD per request;
      per-model cost on Redis is upstream's micro-USD integers. They agree to about 1e-6 per request.
    """

    def record(self, key_id: str, *, model: str, input_tokens: int = 0, output_tokens: int = 0,
               cache_create_tokens: int = 0, cache_read_tokens: int = 0, ephemeral_5m_tokens: int = 0,
               ephemeral_1h_tokens: int = 0, long_context: bool = False, real_cost: float = 0.0,
               rated_cost: float = 0.0, account_id: str | None = None, account_type: str | None = None,
               at: datetime | None = None, weekly_reset_day: int | None = None,
               weekly_reset_hour: int | None = None) -> None: ...          # one round trip on MySQL
    def totals(self, key_id: str, *, period: str = "total", date: Any = None) -> UsageTotals: ...
    def by_model(self, key_id: str, *, period: str = "daily", date: Any = None) -> dict[str, UsageTotals]: ...
    def cost(self, key_id: str, *, period: str = "total", date: Any = None, weekly_reset_day: int | None = None,
             weekly_reset_hour: int | None = None) -> float: ...
    def cost_limits(self, key_id: str, *, weekly_reset_day: int = 1, weekly_reset_hour: int = 0,
                    at: datetime | None = None) -> CostLimits: ...             # one SELECT / one MGET
    # Reports.
    def account_totals(self, account_id: str, *, period: str = "total", date: Any = None) -> UsageTotals: ...
    def account_usage(self, account_id: str, *, period: str = "daily", date: Any = None) -> UsageBreakdown: ...
    def report_key_range(self, key_id: str, start_day: Any, end_day: Any) -> list[UsageRow]: ...
    def model_usage_by_day(self, start_day: Any, end_day: Any) -> list[UsageRow]: ...
    def top_keys_by_cost(self, *, period: str = "daily", date: Any = None, start_day: Any = None,
                         end_day: Any = None, limit: int = 10) -> list[UsageRow]: ...
# --- concurrency leases, queues, rate-limit windows (issue 5) ---
from .records import QueueStats, RateLimitResult, RateLimitWindow


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

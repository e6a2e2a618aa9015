"""Plain frozen records shared by both backends; snake_case here, upstream camelCase in Redis."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing: `items` in order and `total` matching rows over all pages."""

    items: list[T]
    total: int
    page: int = 1
    page_size: int = 50


# --- API keys ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's settings; the raw key is never stored, only `key_hash` (sha256 hex)."""

    id: str
    name: str = "Unnamed Key"
    description: str = ""
    key_hash: str = ""
    token_limit: int = 0
    concurrency_limit: int = 0
    rate_limit_window: int = 0
    rate_limit_requests: int = 0
    rate_limit_cost: float = 0.0
    is_active: bool = True
    claude_account_id: str = ""
    claude_console_account_id: str = ""
    gemini_account_id: str = ""
    openai_account_id: str = ""
    azure_openai_account_id: str = ""
    bedrock_account_id: str = ""
    droid_account_id: str = ""
    permissions: tuple[str, ...] = ()
    enable_model_restriction: bool = False
    restricted_models: tuple[str, ...] = ()
    enable_client_restriction: bool = False
    allowed_clients: tuple[str, ...] = ()
    daily_cost_limit: float = 0.0
    total_cost_limit: float = 0.0
    weekly_opus_cost_limit: float = 0.0
    weekly_reset_day: int = 1
    weekly_reset_hour: int = 0
    tags: tuple[str, ...] = ()
    activation_days: int = 0
    activation_unit: str = "days"
    expiration_mode: str = "fixed"
    is_activated: bool = True
    activated_at: datetime | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    created_by: str = "admin"
    user_id: str = ""
    user_username: str = ""
    icon: str = ""
    service_rates: dict[str, Any] = field(default_factory=dict)
    enable_openai_responses_codex_adaptation: bool = True
    enable_openai_responses_payload_rules: bool = False
    openai_responses_payload_rules: tuple[Any, ...] = ()
    is_deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str = ""
    deleted_by_type: str = ""
    restored_at: datetime | None = None
    restored_by: str = ""
    restored_by_type: str = ""
    # Upstream fields relaystore does not model, kept verbatim so nothing is lost in a round trip.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Outcome of authenticate(): `reason` is None on success, else unknown|inactive|expired|deleted."""

    ok: bool
    reason: str | None = None
    key: ApiKey | None = None


# --- accounts and account groups ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    """An upstream relay account of one platform family; typed fields are the ones queried.

    `data` holds every other upstream field as upstream stores it (strings for hash platforms,
    JSON values for Bedrock's JSON record); `secrets` holds the platform's secret fields decrypted.
    Neither appears in repr(): secrets must never reach a log, and `data` may carry proxy passwords.
    """

    id: str
    platform: str
    name: str = "Unnamed Account"
    description: str = ""
    is_active: bool = True
    schedulable: bool = True
    status: str = "active"
    priority: int = 50
    account_type: str = "shared"
    error_message: str = ""
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AccountGroup:
    """A named set of accounts of one group platform (claude groups also hold claude-console accounts)."""

    id: str
    name: str
    platform: str
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Other upstream group fields (proxy JSON, proxyPriority) verbatim; a proxy may hold a password.
    extra: dict[str, str] = field(default_factory=dict, repr=False)
# --- users, sessions, admin, settings, request details (issue 4 part B) ----------------------------
# Secret fields (session tokens, OAuth verifiers and state, the admin password hash) are
# field(repr=False): a record can be logged or shown in a traceback without leaking them.

@dataclass(frozen=True, slots=True)
class User:
    """An end user (upstream user:{id} JSON); `extra` keeps unknown upstream keys verbatim."""

    id: str
    username: str
    email: str | None = None
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str = "user"
    is_active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_login_at: datetime | None = None
    deleted_at: datetime | None = None
    api_key_count: int = 0
    total_usage: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserSession:
    """An end user's web session (upstream user_session:{token} JSON); `extra` = caller's session data."""

    token: str = field(repr=False)
    user_id: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AdminSession:
    """An admin web session (upstream session:{token} hash)."""

    token: str = field(repr=False)
    username: str
    login_time: datetime | None = None
    last_activity: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AdminCredentials:
    """The admin login (upstream session:admin_credentials hash); only a bcrypt hash, never a password."""

    username: str
    password_hash: str = field(repr=False)
    created_at: datetime | None = None
    last_login: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class OAuthSession:
    """An OAuth/PKCE or device-code flow in progress (upstream oauth:{sessionId} hash, 600 s).

    `extra` holds the flow's other fields (deviceCode, userCode, ...) as upstream stores them:
    strings, objects as JSON text.
    """

    session_id: str = field(repr=False)
    code_verifier: str = field(default="", repr=False)
    state: str = field(default="", repr=False)
    code_challenge: str = ""
    proxy: dict[str, Any] | None = None
    platform: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """One captured request (upstream request_detail:item:{requestId} JSON, kept `data` verbatim)."""

    request_id: str
    timestamp: datetime
    data: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """A cached balance query of an account (upstream account_balance:{platform}:{id} hash, 3600 s)."""

    platform: str
    account_id: str
    balance: float | None = None
    currency: str = "USD"
    last_refresh_at: datetime | None = None
    query_method: str = "api"
    status: str = "success"
    error_message: str = ""
    raw_data: Any = None
    quota: Any = None
# --- usage and cost ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Counters of one rollup: requests and tokens; `tokens` = input + output, `all_tokens` adds cache.

    `long_context_*` are kept for the total and daily periods only (upstream's layout). The cost
    fields are filled where the rollup keeps cost (by_model and the reports) and are None in
    totals(), whose cost is read with cost().
    """

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_create_tokens: int = 0
    cache_read_tokens: int = 0
    tokens: int = 0
    all_tokens: int = 0
    ephemeral_5m_tokens: int = 0
    ephemeral_1h_tokens: int = 0
    long_context_input_tokens: int = 0
    long_context_output_tokens: int = 0
    long_context_requests: int = 0
    real_cost: float | None = None
    rated_cost: float | None = None


@dataclass(frozen=True, slots=True)
class CostLimits:
    """The three costs auth compares with a key's limits (USD, rated): today, this Opus week, all time."""

    daily: float = 0.0
    weekly_opus: float = 0.0
    total: float = 0.0


@dataclass(frozen=True, slots=True)
class UsageBreakdown:
    """One owner's (key or account) usage in one bucket, overall and per normalized model."""

    bucket: str
    totals: UsageTotals
    by_model: dict[str, UsageTotals] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One line of a usage report: a bucket ('' for all time) and whichever of key, account, model it is for."""

    bucket: str
    usage: UsageTotals
    key_id: str = ""
    account_id: str = ""
    model: str = ""
# --- concurrency leases, queues, rate-limit windows -----------------------------------------

@dataclass(frozen=True, slots=True)
class QueueStats:
    """A key's queue outcome counters (upstream concurrency:queue:stats:{keyId}); zeros once expired."""

    entered: int = 0
    success: int = 0
    timeout: int = 0
    cancelled: int = 0
    socket_changed: int = 0
    rejected_overload: int = 0


@dataclass(frozen=True, slots=True)
class RateLimitWindow:
    """A key's live rate-limit window: counters so far, when it started and when it resets."""

    requests: int
    tokens: int
    cost: float
    window_start: datetime
    reset_at: datetime


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """Outcome of check_and_increment(): `reason` is None when allowed, else requests|tokens|cost.

    `requests` includes this request when allowed; `reset_at` is window_start + window (upstream's
    429 `resetAt`).
    """

    allowed: bool
    reason: str | None
    requests: int
    tokens: int
    cost: float
    window_start: datetime
    reset_at: datetime

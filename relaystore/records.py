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

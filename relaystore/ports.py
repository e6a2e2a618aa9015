"""The contract each backend implements: one Protocol per entity family (spec/api.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from .records import ApiKey, AuthResult, CostLimits, Page, UsageBreakdown, UsageRow, UsageTotals


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

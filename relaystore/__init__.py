"""relaystore: MySQL and Redis persistence for an LLM API relay; import from here only."""
from .config import Settings, load_settings
from .errors import (AlreadyExists, BackendError, BackendUnavailable, ConfigError, Conflict, DataError,
                     InvalidInput, NotFound, NotSupported, RelayStoreError)
from .limit_rules import account_lease_id
from .records import (Account, AccountBalance, AccountGroup, AdminCredentials, AdminSession, ApiKey, AuthResult,
                      CostLimits, OAuthSession, Page, QueueStats, RateLimitResult, RateLimitWindow, RequestDetail,
                      UsageBreakdown, UsageRow, UsageTotals, User, UserSession)
from .store import Store, open_store

__all__ = [
    "open_store", "Store", "Settings", "load_settings",
    "ApiKey", "AuthResult", "Page", "Account", "AccountGroup",
    "User", "UserSession", "AdminSession", "AdminCredentials", "OAuthSession", "RequestDetail",
    "AccountBalance",
    "UsageTotals", "CostLimits", "UsageBreakdown", "UsageRow",
    "QueueStats", "RateLimitResult", "RateLimitWindow", "account_lease_id",
    "RelayStoreError", "ConfigError", "NotFound", "Conflict", "AlreadyExists", "BackendUnavailable",
    "BackendError", "DataError", "InvalidInput", "NotSupported",
]

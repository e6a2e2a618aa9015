"""relaystore: MySQL and Redis persistence for an LLM API relay; import from here only."""
from .config import Settings, load_settings
from .errors import (AlreadyExists, BackendError, BackendUnavailable, ConfigError, Conflict, DataError,
                     InvalidInput, NotFound, NotSupported, RelayStoreError)
from .records import Account, AccountGroup, ApiKey, AuthResult, Page
from .records import (AccountBalance, AdminCredentials, AdminSession, ApiKey, AuthResult, OAuthSession, Page, RequestDetail,
                      User, UserSession)
from .records import ApiKey, AuthResult, CostLimits, Page, UsageBreakdown, UsageRow, UsageTotals
from .store import Store, open_store
from .limit_rules import account_lease_id  # issue 5
from .records import QueueStats, RateLimitResult, RateLimitWindow  # issue 5

__all__ = [
    "open_store", "Store", "Settings", "load_settings",
    "ApiKey", "AuthResult", "Page", "Account", "AccountGroup",
    "User", "UserSession", "AdminSession", "AdminCredentials", "OAuthSession", "RequestDetail",
    "AccountBalance",
    "ApiKey", "AuthResult", "Page",
    "UsageTotals", "CostLimits", "UsageBreakdown", "UsageRow",
    "RelayStoreError", "ConfigError", "NotFound", "Conflict", "AlreadyExists", "BackendUnavailable",
    "BackendError", "DataError", "InvalidInput", "NotSupported",
    "QueueStats", "RateLimitResult", "RateLimitWindow", "account_lease_id",
]

"""relaystore: MySQL and Redis persistence for an LLM API relay; import from here only."""
from .config import Settings, load_settings
from .errors import (AlreadyExists, BackendError, BackendUnavailable, ConfigError, Conflict, DataError,
                     InvalidInput, NotFound, NotSupported, RelayStoreError)
from .records import ApiKey, AuthResult, Page
from .store import Store, open_store
from .limit_rules import account_lease_id  # issue 5
from .records import QueueStats, RateLimitResult, RateLimitWindow  # issue 5

__all__ = [
    "open_store", "Store", "Settings", "load_settings",
    "ApiKey", "AuthResult", "Page",
    "RelayStoreError", "ConfigError", "NotFound", "Conflict", "AlreadyExists", "BackendUnavailable",
    "BackendError", "DataError", "InvalidInput", "NotSupported",
    "QueueStats", "RateLimitResult", "RateLimitWindow", "account_lease_id",
]

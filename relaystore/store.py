"""open_store(): the facade relay code uses; picks the backend from DATABASE_TYPE."""
from __future__ import annotations

from typing import Any

from .config import Settings, load_settings
from .ports import (
    AccountGroupStore,
    AccountStateStore,
    AccountStore,
    AdminStore,
    ApiKeyStore,
    LeaseStore,
    QueueStore,
    RateLimitStore,
    RequestDetailStore,
    SessionStore,
    SettingsStore,
    UsageStore,
    UserStore,
)


class Store:
    """The selected backend's DAOs (`api_keys`, ...) plus close(); a context manager.

    backend "dual" (the migration cutover) opens both and wraps each family in relaystore.dual.
    """

    backend: str
    settings: Settings
    api_keys: ApiKeyStore
    accounts: AccountStore
    account_groups: AccountGroupStore
    users: UserStore
    sessions: SessionStore
    admin: AdminStore
    system_settings: SettingsStore
    request_details: RequestDetailStore
    account_state: AccountStateStore
    usage: UsageStore
    leases: LeaseStore
    queues: QueueStore
    rate_limits: RateLimitStore

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = settings.database_type
        self._closers: list[Any] = []
        if self.backend == "mysql":
            self._open_mysql()
        elif self.backend == "redis":
            self._open_redis()
        else:
            self._open_dual()

    def _open_mysql(self) -> None:
        from .mysql.account_groups import MySQLAccountGroups
        from .mysql.accounts import MySQLAccounts
        from .mysql.api_keys import MySQLApiKeys
        from .mysql.pool import MySQLPool

        self.pool = MySQLPool(self.settings)
        self._closers.append(self.pool.close)
        self.api_keys = MySQLApiKeys(self.pool, self.settings)
        self.accounts = MySQLAccounts(self.pool, self.settings)
        self.account_groups = MySQLAccountGroups(self.pool)
        self._open_mysql_4b()
        from .mysql.usage import MySQLUsage
        self.usage = MySQLUsage(self.pool, self.settings)
        from .mysql.leases import MySQLLeases
        from .mysql.queues import MySQLQueues
        from .mysql.rate_limits import MySQLRateLimits
        self.leases = MySQLLeases(self.pool)
        self.queues = MySQLQueues(self.pool)
        self.rate_limits = MySQLRateLimits(self.pool)

    def _open_redis(self) -> None:
        from .redis.account_groups import RedisAccountGroups
        from .redis.accounts import RedisAccounts
        from .redis.api_keys import RedisApiKeys
        from .redis.client import make_client
        from .redis.keys import Keys

        self.redis = make_client(self.settings)
        self.keys = Keys(self.settings.redis_key_prefix)
        self._closers.append(self.redis.close)
        self.api_keys = RedisApiKeys(self.redis, self.keys, self.settings)
        self.accounts = RedisAccounts(self.redis, self.keys, self.settings)
        self.account_groups = RedisAccountGroups(self.redis, self.keys)
        self._open_redis_4b()

    def _open_mysql_4b(self) -> None:
        """Users, sessions, admin credentials, settings, request details on MySQL (issue 4 part B)."""
        from .mysql.account_state import MySQLAccountState
        from .mysql.admin import MySQLAdmin
        from .mysql.request_details import MySQLRequestDetails
        from .mysql.sessions import MySQLSessions
        from .mysql.settings import MySQLSettings
        from .mysql.users import MySQLUsers

        self.users = MySQLUsers(self.pool, self.settings)
        self.sessions = MySQLSessions(self.pool, self.settings)
        self.admin = MySQLAdmin(self.pool, self.settings)
        self.system_settings = MySQLSettings(self.pool, self.settings)
        self.request_details = MySQLRequestDetails(self.pool, self.settings)
        self.account_state = MySQLAccountState(self.pool, self.settings)

    def _open_redis_4b(self) -> None:
        """Users, sessions, admin credentials, settings, request details on Redis (issue 4 part B)."""
        from .redis.account_state import RedisAccountState
        from .redis.admin import RedisAdmin
        from .redis.request_details import RedisRequestDetails
        from .redis.sessions import RedisSessions
        from .redis.settings import RedisSettings
        from .redis.users import RedisUsers

        self.users = RedisUsers(self.redis, self.keys, self.settings)
        self.sessions = RedisSessions(self.redis, self.keys, self.settings)
        self.admin = RedisAdmin(self.redis, self.keys, self.settings)
        self.system_settings = RedisSettings(self.redis, self.keys, self.settings)
        self.request_details = RedisRequestDetails(self.redis, self.keys, self.settings)
        self.account_state = RedisAccountState(self.redis, self.keys, self.settings)
        from .redis.usage import RedisUsage
        self.usage = RedisUsage(self.redis, self.keys, self.settings)
        from .redis.leases import RedisLeases
        from .redis.queues import RedisQueues
        from .redis.rate_limits import RedisRateLimits
        self.leases = RedisLeases(self.redis, self.keys)
        self.queues = RedisQueues(self.redis, self.keys)
        self.rate_limits = RedisRateLimits(self.redis, self.keys)

    def _open_dual(self) -> None:
        """Both backends: writes to Redis copied to MySQL, reads from DUAL_READ_FROM (relaystore/dual.py)."""
        from .dual import open_dual

        open_dual(self)

    def close(self) -> None:
        """Release the backend's connections; the store is unusable afterwards."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.backend == "dual":
            return f"Store(backend='dual', read_from={self.settings.dual_read_from!r})"
        return f"Store(backend={self.backend!r})"


def open_store(*, env_file: str | None = ".env", **overrides: Any) -> Store:
    """A Store from the environment and `.env`; keyword overrides use setting names (mysql_database=...)."""
    return Store(load_settings(env_file, **overrides))

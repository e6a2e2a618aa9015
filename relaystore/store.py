"""open_store(): the facade relay code uses; picks the backend from DATABASE_TYPE."""
from __future__ import annotations

from typing import Any

from .config import Settings, load_settings
from .ports import ApiKeyStore


class Store:
    """The selected backend's DAOs (`api_keys`, ...) plus close(); a context manager.

    backend "dual" (the migration cutover) opens both and wraps each family in relaystore.dual.
    """

    backend: str
    settings: Settings
    api_keys: ApiKeyStore

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
        from .mysql.api_keys import MySQLApiKeys
        from .mysql.pool import MySQLPool

        self.pool = MySQLPool(self.settings)
        self._closers.append(self.pool.close)
        self.api_keys = MySQLApiKeys(self.pool, self.settings)

    def _open_redis(self) -> None:
        from .redis.api_keys import RedisApiKeys
        from .redis.client import make_client
        from .redis.keys import Keys

        self.redis = make_client(self.settings)
        self.keys = Keys(self.settings.redis_key_prefix)
        self._closers.append(self.redis.close)
        self.api_keys = RedisApiKeys(self.redis, self.keys, self.settings)

    def _open_dual(self) -> None:
        """Both backends: writes to Redis copied to MySQL, reads from DUAL_READ_FROM (relaystore/dual.py)."""
        from .dual import open_dual

        open_dual(self)

    def close(self) -> None:
        """Release the backend's connections; the store is unusable afterwards."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> "Store":
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

"""Admin credentials on Redis: the session:admin_credentials HASH upstream writes at startup."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import redis

from .. import session_rules as rules
from ..config import Settings
from ..records import AdminCredentials
from ..timefmt import utcnow
from ..ttl_rules import ttl_ms
from .client import redis_errors
from .keys import Keys


class RedisAdmin:
    """store.admin on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def get_credentials(self) -> AdminCredentials | None:
        """The admin login, or None when unset or expired (upstream then reloads data/init.json)."""
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(self._k.admin_credentials))
        return rules.decode_credentials(data) if data else None

    def set_credentials(self, username: str, password_hash: str, *, created_at: datetime | None = None,
                        last_login: datetime | None = None, updated_at: datetime | None = None,
                        extra: dict[str, Any] | None = None,
                        ttl_seconds: float | None = rules.ADMIN_CREDENTIALS_TTL_SECONDS) -> AdminCredentials:
        """Replace the admin login (bcrypt hash only); ttl_seconds=None keeps it without expiry."""
        ms = None if ttl_seconds is None else ttl_ms(ttl_seconds)
        creds = rules.new_credentials(username, password_hash, created_at=created_at or utcnow(),
                                      last_login=last_login, updated_at=updated_at, extra=extra)
        key = self._k.admin_credentials
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=cast(Any, rules.encode_credentials(creds)))
            if ms is not None:
                pipe.pexpire(key, ms)
            pipe.execute()
        return creds

    def delete_credentials(self) -> bool:
        with redis_errors():
            return bool(self._r.delete(self._k.admin_credentials))

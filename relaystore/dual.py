"""DATABASE_TYPE=dual: the cutover backend (MYSQL_MIGRATION.md, "Cutover").

Every write goes to Redis, the relay's store of record until the cutover ends, and the Redis keys
it changed are then copied to MySQL by the migration's own copy routine (migrate/sync.py): read
back from Redis with a copy sequence number, written to MySQL as absolute values unless a newer
copy got there first. So MySQL receives exactly what Redis holds, created records keep their id
and hash on both sides, and counters are copied, never incremented twice. Reads come from
DUAL_READ_FROM.

A family joins dual mode with one entry in WRITES: its write methods and, for each, the Redis
keys (relative, built with Keys("")) a call changed. Families without an entry are not offered.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import DataError
from .records import ApiKey, AuthResult
from .redis.keys import Keys

if TYPE_CHECKING:
    from .migrate.sync import Copier
    from .store import Store

_K = Keys("")
Touched = Callable[[tuple[Any, ...], dict[str, Any], Any], list[str]]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, position: int = 0) -> Any:
    return kwargs[name] if name in kwargs else args[position]


def _activated_now(key: ApiKey | None) -> bool:
    """authenticate() wrote the key: an activation-mode key whose first use is the last use."""
    return (key is not None and key.expiration_mode == "activation" and key.activated_at is not None
            and key.activated_at == key.last_used_at)


def _usage_recorded(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any, *, dao: Any) -> list[str]:
    """The keys RedisUsage.record() changed (usage rollups, cost keys, apikey:{id}'s lastUsedAt)."""
    from .migrate.families.usage import keys_recorded

    return keys_recorded(_arg(args, kwargs, "key_id"), offset_hours=dao.timezone_offset,
                         **{k: v for k, v in kwargs.items() if k != "key_id"})


_usage_recorded.wants_dao = True  # type: ignore[attr-defined]  # its buckets follow the DAO's timezone offset


# store attribute -> {write method: the relative Redis keys one call changed}
WRITES: dict[str, dict[str, Touched]] = {
    "api_keys": {
        "create": lambda a, kw, result: [_K.api_key(result[0].id)],
        "update": lambda a, kw, result: [_K.api_key(result.id)],
        "delete": lambda a, kw, result: [_K.api_key(result.id)],
        "restore": lambda a, kw, result: [_K.api_key(result.id)],
        "purge": lambda a, kw, result: [_K.api_key(_arg(a, kw, "key_id"))],
        "put": lambda a, kw, result: [_K.api_key(_arg(a, kw, "key").id)],
        # A read, except on an activation-mode key's first use: see DualDAO.authenticate.
        "authenticate": lambda a, kw, result: [_K.api_key(result.key.id)] if _activated_now(result.key) else [],
    },
    "usage": {"record": _usage_recorded},
}


class DualDAO:
    """One family's DAO in dual mode: WRITES methods run on Redis then copy to MySQL; the rest read."""

    def __init__(self, name: str, redis_dao: Any, mysql_dao: Any, read_from: str, copier: Copier,
                 writes: dict[str, Touched] | None = None) -> None:
        self._name = name
        self._redis = redis_dao
        self._mysql = mysql_dao
        self._read = mysql_dao if read_from == "mysql" else redis_dao
        self._copier = copier
        # a Touched marked wants_dao also gets the Redis DAO (usage: its buckets follow the DAO's offset)
        self._writes = {method: partial(touched, dao=redis_dao) if getattr(touched, "wants_dao", False) else touched
                        for method, touched in (WRITES[name] if writes is None else writes).items()}

    def replicate(self, keys: Sequence[str]) -> None:
        """Copy these Redis keys' current values into MySQL (DataError if one cannot be stored)."""
        from .migrate import families

        by_family: dict[Any, list[str]] = {}
        for key in keys:
            family = families.family_for_key(key)
            if family is None:
                raise DataError(f"{key}: no migration family owns this key")
            by_family.setdefault(family, []).append(key)
        for family, group in by_family.items():
            result = self._copier.copy(family, group, on_error="stop")
            if result.errors:
                raise DataError(f"written to Redis but not copied to MySQL: {result.errors[0][1]} "
                                "(run `relaystore migrate redis-to-mysql` to catch up)")

    def _write(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = getattr(self._redis, method)(*args, **kwargs)
        keys = self._writes[method](args, kwargs, result)
        if keys:
            self.replicate(keys)
        return result

    def authenticate(self, raw_key: str) -> AuthResult:
        """Read from DUAL_READ_FROM; a first-use activation is made on Redis and copied, never on MySQL alone."""
        if self._read is self._redis:
            return self._write("authenticate", (raw_key,), {})  # type: ignore[no-any-return]
        result: AuthResult = self._mysql.authenticate(raw_key)
        if _activated_now(result.key):
            # MySQL may just have activated it; Redis (the store of record) activates too, and its
            # copy overwrites MySQL's so both hold the same activation time.
            return self._write("authenticate", (raw_key,), {})  # type: ignore[no-any-return]
        return result

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        if method in self._writes:
            return lambda *args, **kwargs: self._write(method, args, kwargs)
        return getattr(self._read, method)

    def __repr__(self) -> str:
        return f"DualDAO({self._name}, reads from {'mysql' if self._read is self._mysql else 'redis'})"


def open_dual(store: Store) -> None:
    """Fill a dual Store: both backends opened, each WRITES family wrapped in a DualDAO."""
    from .migrate.sync import Copier
    from .store import Store

    settings = store.settings
    redis_side = Store(replace(settings, database_type="redis"))
    try:
        mysql_side = Store(replace(settings, database_type="mysql"))
    except BaseException:
        redis_side.close()
        raise
    store._closers += [redis_side.close, mysql_side.close]
    # The two sides stay reachable for operators and tests: store.redis_store / store.mysql_store.
    for name, value in (("redis", redis_side.redis), ("keys", redis_side.keys), ("pool", mysql_side.pool),
                        ("redis_store", redis_side), ("mysql_store", mysql_side)):
        setattr(store, name, value)
    copier = Copier(redis_side.redis, redis_side.keys, mysql_side.pool)
    for name in WRITES:
        setattr(store, name, DualDAO(name, getattr(redis_side, name), getattr(mysql_side, name),
                                     settings.dual_read_from, copier))

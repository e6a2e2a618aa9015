"""DATABASE_TYPE=dual: the cutover backend (MYSQL_MIGRATION.md, "Cutover").

Every write goes to Redis, the relay's store of record until the cutover ends, and the Redis keys
it changed are then copied to MySQL by the migration's own copy routine (migrate/sync.py): read
back from Redis with a copy sequence number, written to MySQL as absolute values unless a newer
copy got there first. So MySQL receives exactly what Redis holds, created records keep their id
and hash on both sides, and counters are copied, never incremented twice. Reads come from
DUAL_READ_FROM.

A family joins dual mode with one entry in WRITES: its write methods and, for each, the Redis
keys (relative, built with Keys("")) a call changed. Families without an entry are not offered.
A write that deletes keys it found by SCAN (upstream's invalidateUserSessions, clear_all) cannot name them
afterwards: ALSO_COPIED names the keys of the rows MySQL holds that the call may have removed, and they
are copied too (a key gone from Redis deletes its row, through the same sequence guard).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import DataError
from .limit_rules import GLOBAL_WAIT_LIST
from .records import ApiKey, AuthResult
from .redis.keys import Keys
from .session_rules import RESERVED_ADMIN_TOKEN
from .settings_rules import OEM_SETTINGS, SERVICE_RATES, WEBHOOK_CONFIG

if TYPE_CHECKING:
    from .migrate.sync import Copier
    from .mysql.pool import MySQLPool
    from .store import Store

_K = Keys("")
Touched = Callable[[tuple[Any, ...], dict[str, Any], Any], list[str]]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, position: int = 0) -> Any:
    return kwargs[name] if name in kwargs else args[position]


def _account(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """(platform, account_id) of an account_state call."""
    return _arg(args, kwargs, "platform"), _arg(args, kwargs, "account_id", 1)


def _activated_now(key: ApiKey | None) -> bool:
    """authenticate() wrote the key: an activation-mode key whose first use is the last use."""
    return (key is not None and key.expiration_mode == "activation" and key.activated_at is not None
            and key.activated_at == key.last_used_at)


def _lease_key(a: tuple[Any, ...], kw: dict[str, Any], result: Any) -> list[str]:
    return [_K.concurrency(_arg(a, kw, "key_id"))]


def _queue_key(a: tuple[Any, ...], kw: dict[str, Any], result: Any) -> list[str]:
    return [_K.concurrency_queue(_arg(a, kw, "key_id"))]


def _window_keys(a: tuple[Any, ...], kw: dict[str, Any], result: Any) -> list[str]:
    key_id = _arg(a, kw, "key_id")
    return [_K.rate_limit_window_start(key_id), _K.rate_limit_requests(key_id), _K.rate_limit_tokens(key_id),
            _K.rate_limit_cost(key_id)]


def _wait_lists(a: tuple[Any, ...], kw: dict[str, Any], result: Any) -> list[str]:
    lists = [_arg(a, kw, "key_id")] + ([GLOBAL_WAIT_LIST] if kw.get("include_global", True) else [])
    return [_K.concurrency_queue_wait_times(list_id) for list_id in lists]


def _usage_keys(a: tuple[Any, ...], kw: dict[str, Any], result: Any) -> list[str]:
    key_id = _arg(a, kw, "key_id")
    return ([_K.rate_limit_tokens(key_id)] * bool(result and kw.get("tokens"))
            + [_K.rate_limit_cost(key_id)] * bool(result and kw.get("cost")))


def _queue_counters_held(pool: MySQLPool) -> list[str]:
    from .migrate.families.concurrency_queues import count_keys

    return count_keys(pool)


def _user_sessions_held(pool: MySQLPool, user_id: str) -> list[str]:
    from .mysql.sessions import user_session_tokens

    return [_K.user_session(token) for token in user_session_tokens(pool, user_id)]


def _admin_session(token: str) -> list[str]:
    """session:{token}, unless the token names the credentials hash (the DAO leaves that alone)."""
    return [] if token == RESERVED_ADMIN_TOKEN else [_K.admin_session(token)]


def _setting(name: str) -> Touched:
    return lambda a, kw, result: [_K.setting(name)]


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
    # Every lease script prunes expired members first, count() included: it writes too.
    "leases": {"acquire": _lease_key, "refresh": _lease_key, "release": _lease_key, "count": _lease_key,
               "purge_expired": lambda a, kw, result: []},
    "queues": {
        "enter": _queue_key, "leave": _queue_key, "clear": _queue_key,
        "clear_all": lambda a, kw, result: [],   # ALSO_COPIED
        "record_stat": lambda a, kw, result: [_K.concurrency_queue_stats(_arg(a, kw, "key_id"))],
        "record_wait": _wait_lists,
    },
    "rate_limits": {"check_and_increment": _window_keys, "add_usage": _usage_keys, "reset": _window_keys},
    "users": {
        "create": lambda a, kw, result: [_K.user(result.id)],
        "update": lambda a, kw, result: [_K.user(result.id)],
        "delete": lambda a, kw, result: [_K.user(result.id)],          # + the user's sessions: ALSO_COPIED
        "purge": lambda a, kw, result: [_K.user(_arg(a, kw, "user_id"))],
    },
    "sessions": {
        "set_sticky": lambda a, kw, result: [_K.sticky_session(_arg(a, kw, "session_hash"))],
        "renew_sticky": lambda a, kw, result: [_K.sticky_session(_arg(a, kw, "session_hash"))],
        "delete_sticky": lambda a, kw, result: [_K.sticky_session(_arg(a, kw, "session_hash"))],
        "create_admin_session": lambda a, kw, result: [_K.admin_session(result.token)],
        "touch_admin_session": lambda a, kw, result: _admin_session(_arg(a, kw, "token")),
        "delete_admin_session": lambda a, kw, result: _admin_session(_arg(a, kw, "token")),
        "create_user_session": lambda a, kw, result: [_K.user_session(result.token)],
        "delete_user_session": lambda a, kw, result: [_K.user_session(_arg(a, kw, "token"))],
        "delete_user_sessions": lambda a, kw, result: [],                 # ALSO_COPIED
        "create_oauth_session": lambda a, kw, result: [_K.oauth_session(result.session_id)],
        "delete_oauth_session": lambda a, kw, result: [_K.oauth_session(_arg(a, kw, "session_id"))],
    },
    "admin": {
        "set_credentials": lambda a, kw, result: [_K.admin_credentials],
        "delete_credentials": lambda a, kw, result: [_K.admin_credentials],
    },
    "system_settings": {
        "set": lambda a, kw, result: [_K.setting(_arg(a, kw, "name"))],
        "delete": lambda a, kw, result: [_K.setting(_arg(a, kw, "name"))],
        "set_json": lambda a, kw, result: [_K.setting(_arg(a, kw, "name"))],
        "set_webhook_config": _setting(WEBHOOK_CONFIG),
        "set_service_rates": _setting(SERVICE_RATES),
        "set_oem_settings": _setting(OEM_SETTINGS),
    },
    "request_details": {
        "put": lambda a, kw, result: [_K.request_detail(result.request_id)],
        "delete": lambda a, kw, result: [_K.request_detail(_arg(a, kw, "request_id"))],
    },
    # Accounts: index and shared-pool SETs are derived; a deleted account's member rows go with its
    # record (the accounts family's delete_mysql), as the Redis delete drops it from every member SET.
    "accounts": {
        "create": lambda a, kw, result: [_K.account(result.platform, result.id)],
        "update": lambda a, kw, result: [_K.account(result.platform, result.id)],
        "delete": lambda a, kw, result: [_K.account(_arg(a, kw, "platform"), _arg(a, kw, "account_id", 1))],
    },
    "account_groups": {
        "create": lambda a, kw, result: [_K.account_group(result.id)],
        "update": lambda a, kw, result: [_K.account_group(result.id)],
        "delete": lambda a, kw, result: [_K.account_group(_arg(a, kw, "group_id")),
                                         _K.account_group_members(_arg(a, kw, "group_id"))],
        "add_member": lambda a, kw, result: [_K.account_group_members(_arg(a, kw, "group_id"))],
        "remove_member": lambda a, kw, result: [_K.account_group_members(_arg(a, kw, "group_id"))],
        "backfill_reverse_index": lambda a, kw, result: [_K.account_groups_reverse_migrated],
    },
    "account_state": {
        "set_balance": lambda a, kw, result: [_K.account_balance(result.platform, result.account_id)],
        "set_local_balance": lambda a, kw, result: [_K.account_balance_local(*_account(a, kw))],
        "delete_balance": lambda a, kw, result: [_K.account_balance(*_account(a, kw)),
                                                 _K.account_balance_local(*_account(a, kw))],
        "set_balance_script": lambda a, kw, result: [_K.account_balance_script(*_account(a, kw))],
        "delete_balance_script": lambda a, kw, result: [_K.account_balance_script(*_account(a, kw))],
        "add_test_result": lambda a, kw, result: [_K.account_test_history(*_account(a, kw))],
        "set_last_test": lambda a, kw, result: [_K.account_last_test(*_account(a, kw))],
        "delete_test_state": lambda a, kw, result: [_K.account_test_history(*_account(a, kw)),
                                                    _K.account_last_test(*_account(a, kw))],
    },
    "usage": {"record": _usage_recorded},
}

# Writes whose Redis keys cannot all be named from the call (a user's sessions deleted by SCAN,
# clear_all deleting whatever queue counters exist): the keys MySQL holds for them are copied as
# well, which removes the records Redis no longer has.
# store attribute -> {write method: (pool, args, kwargs) -> relative keys of MySQL's matching records}
ALSO_COPIED: dict[str, dict[str, Callable[[MySQLPool, tuple[Any, ...], dict[str, Any]], list[str]]]] = {
    "users": {
        "delete": lambda pool, a, kw: _user_sessions_held(pool, _arg(a, kw, "user_id")),
        "purge": lambda pool, a, kw: _user_sessions_held(pool, _arg(a, kw, "user_id")),
    },
    "sessions": {
        "delete_user_sessions": lambda pool, a, kw: _user_sessions_held(pool, _arg(a, kw, "user_id")),
    },
    "queues": {"clear_all": lambda pool, a, kw: _queue_counters_held(pool)},
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
        also = ALSO_COPIED.get(self._name, {}).get(method)
        if also is not None:
            keys = keys + also(self._copier.pool, args, kwargs)
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

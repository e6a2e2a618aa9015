"""Session families: user and admin web sessions, OAuth flows, sticky mappings, the admin login.

Every key here carries a Redis TTL (ExpiringFamily): the row's expires_at holds the absolute
expiry and a rollback re-arms what remains of it. The values go through session_rules, the
encoders both Redis and MySQL DAOs use. User/admin session tokens and OAuth session ids *are*
the key names, so those families redact them in every report (label()); a sticky session's
name is a hash of conversation content, not a credential, and is shown.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from ... import session_rules as rules
from ...errors import DataError
from ...jsnum import js_json, json_object
from ...mysql import admin as mysql_admin
from ...mysql import bulk
from ...mysql.pool import MySQLPool
from ...records import AdminCredentials, AdminSession, UserSession
from ...redis.keys import Keys
from ..family import KeySource
from ..ttl import aware_utc, naive_utc
from .expiring import Expiring, ExpiringFamily, KeyedTableFamily, Parsed

_ANY = re.DOTALL   # a key's variable part may hold any character, newlines included


def _fields(a: Any, b: Any, names: Sequence[str]) -> list[str]:
    return [n for n in names if getattr(a, n) != getattr(b, n)]


def _string(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{label}: not a string value")
    return value


def _hash(value: Any, label: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise DataError(f"{label}: not a hash value")
    return value


def _json_object(text: str | None, label: str) -> dict[str, Any]:
    return json_object(text or "{}", f"{label}: stored JSON")


class UserSessionsFamily(KeyedTableFamily[Parsed[UserSession]]):
    """user_session:{token} STRING JSON <-> user_sessions (data = the JSON verbatim, user_id copied out)."""

    name = "user_sessions"
    sources = (KeySource(type="string", match="user_session:*", regex=re.compile(r"user_session:.+", _ANY)),)
    table, key_column, key_prefix, columns = "user_sessions", "token", "user_session:", ("user_id", "data")
    secret_prefix = "user_session:"

    def _parse(self, key: str, text: str) -> Parsed[UserSession]:
        return Parsed(text, rules.decode_user_session(self._id(key), text, self.label(key)))

    def decode_value(self, key: str, value: Any) -> Parsed[UserSession]:
        return self._parse(key, _string(value, self.label(key)))

    def to_row(self, record: Expiring[Parsed[UserSession]]) -> dict[str, Any]:
        return {"user_id": record.value.record.user_id, "data": record.value.text}

    def from_row(self, key: str, row: dict[str, Any]) -> Parsed[UserSession]:
        return self._parse(key, str(row["data"]))

    def compare_values(self, a: Parsed[UserSession], b: Parsed[UserSession]) -> list[str]:
        if a.text == b.text:
            return []
        return _fields(a.record, b.record, ("user_id", "created_at", "expires_at", "extra")) or ["data"]

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[Parsed[UserSession]]) -> None:
        pipe.set(k.prefix + record.key, record.value.text)


_ADMIN_SESSION_FIELDS = ("username", "login_time", "last_activity", "extra")


class AdminSessionsFamily(KeyedTableFamily[AdminSession]):
    """session:{token} HASH <-> admin_sessions (typed columns, other hash fields in extra)."""

    name = "admin_sessions"
    sources = (KeySource(type="hash", match="session:*",
                         regex=re.compile(rf"session:(?!{rules.RESERVED_ADMIN_TOKEN}\Z).+", _ANY)),)
    table, key_column, key_prefix = "admin_sessions", "token", "session:"
    columns = ("username", "login_time", "last_activity", "extra")
    secret_prefix = "session:"

    def decode_value(self, key: str, value: Any) -> AdminSession:
        label = self.label(key)
        data = _hash(value, label)
        if not data.get("username"):
            raise DataError(f"{label}: required field username is missing")
        return rules.decode_admin_session(self._id(key), data, label)

    def to_row(self, record: Expiring[AdminSession]) -> dict[str, Any]:
        s = record.value
        return {"username": s.username, "login_time": naive_utc(s.login_time),
                "last_activity": naive_utc(s.last_activity), "extra": js_json(s.extra)}

    def from_row(self, key: str, row: dict[str, Any]) -> AdminSession:
        return AdminSession(token=self._id(key), username=row["username"], login_time=aware_utc(row["login_time"]),
                            last_activity=aware_utc(row["last_activity"]),
                            extra=_json_object(row["extra"], f"admin_sessions row {self.label(key)}"))

    def compare_values(self, a: AdminSession, b: AdminSession) -> list[str]:
        return _fields(a, b, _ADMIN_SESSION_FIELDS)

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[AdminSession]) -> None:
        full = k.prefix + record.key
        pipe.delete(full)
        pipe.hset(full, mapping=rules.encode_admin_session(record.value))  # type: ignore[arg-type]


class OAuthSessionsFamily(KeyedTableFamily[dict[str, str]]):
    """oauth:{sessionId} HASH <-> oauth_sessions (data = the hash as a JSON object of strings)."""

    name = "oauth_sessions"
    sources = (KeySource(type="hash", match="oauth:*", regex=re.compile(r"oauth:.+", _ANY)),)
    table, key_column, key_prefix, columns = "oauth_sessions", "session_id", "oauth:", ("data",)
    secret_prefix = "oauth:"

    def decode_value(self, key: str, value: Any) -> dict[str, str]:
        return dict(_hash(value, self.label(key)))

    def to_row(self, record: Expiring[dict[str, str]]) -> dict[str, Any]:
        return {"data": js_json(record.value)}

    def from_row(self, key: str, row: dict[str, Any]) -> dict[str, str]:
        label = f"oauth_sessions row {self.label(key)}"
        data = _json_object(row["data"], label)
        if not all(isinstance(v, str) for v in data.values()):
            raise DataError(f"{label}: stored fields are not all strings")
        return data

    def compare_values(self, a: dict[str, str], b: dict[str, str]) -> list[str]:
        return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[dict[str, str]]) -> None:
        full = k.prefix + record.key
        pipe.delete(full)
        pipe.hset(full, mapping=record.value)  # type: ignore[arg-type]


class StickySessionsFamily(KeyedTableFamily[str]):
    """sticky_session:{sessionHash} STRING accountId <-> sticky_sessions."""

    name = "sticky_sessions"
    sources = (KeySource(type="string", match="sticky_session:*", regex=re.compile(r"sticky_session:.+", _ANY)),)
    table, key_column, key_prefix, columns = "sticky_sessions", "session_hash", "sticky_session:", ("account_id",)

    def decode_value(self, key: str, value: Any) -> str:
        text = _string(value, key)
        if not text:
            raise DataError(f"{key}: the account id is empty")
        return text

    def to_row(self, record: Expiring[str]) -> dict[str, Any]:
        return {"account_id": record.value}

    def from_row(self, key: str, row: dict[str, Any]) -> str:
        return str(row["account_id"])

    def compare_values(self, a: str, b: str) -> list[str]:
        return [] if a == b else ["account_id"]

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[str]) -> None:
        pipe.set(k.prefix + record.key, record.value)


CREDENTIALS_KEY = f"session:{rules.RESERVED_ADMIN_TOKEN}"
_CREDENTIAL_FIELDS = ("username", "password_hash", "created_at", "last_login", "updated_at", "extra")


class AdminCredentialsFamily(ExpiringFamily[AdminCredentials]):
    """The session:admin_credentials HASH <-> the admin_credentials row (id 1); its TTL is optional."""

    name = "admin_credentials"
    sources = (KeySource(type="hash", names=(CREDENTIALS_KEY,), regex=re.compile(re.escape(CREDENTIALS_KEY))),)
    tables = ("admin_credentials",)
    ttl_optional = True

    def estimate(self, client: Any, k: Keys) -> int | None:
        return 1

    def decode_value(self, key: str, value: Any) -> AdminCredentials:
        data = _hash(value, key)
        for field in ("username", "passwordHash"):
            if not data.get(field):
                raise DataError(f"{key}: required field {field} is missing")
        return rules.decode_credentials(data, key)

    def _row(self, record: Expiring[AdminCredentials]) -> dict[str, Any]:
        c = record.value
        return {"id": 1, "username": c.username, "password_hash": c.password_hash,
                "created_at": naive_utc(c.created_at),
                "last_login": naive_utc(c.last_login), "updated_at": naive_utc(c.updated_at),
                "extra": js_json(c.extra), "expires_at": naive_utc(record.expires_at)}

    def check(self, record: Expiring[AdminCredentials], checker: Any) -> None:
        checker.check("admin_credentials", self._row(record), record.key)

    def write_mysql(self, cur: Any, records: Sequence[Expiring[AdminCredentials]]) -> None:
        bulk.executemany(cur, mysql_admin.UPSERT_ADMIN_CREDENTIALS_ROW, [self._row(r) for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        if CREDENTIALS_KEY in keys:
            cur.execute(mysql_admin.DELETE_ADMIN_CREDENTIALS_ROW)

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        if pool.fetchone(mysql_admin.SELECT_ADMIN_CREDENTIALS_ROW) is not None:
            yield [CREDENTIALS_KEY]

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, Expiring[AdminCredentials]]:
        if CREDENTIALS_KEY not in keys:
            return {}
        row = pool.fetchone(mysql_admin.SELECT_ADMIN_CREDENTIALS_ROW)
        if row is None:
            return {}
        creds = mysql_admin.from_row(row)
        return {CREDENTIALS_KEY: Expiring(CREDENTIALS_KEY, creds, aware_utc(row["expires_at"]))}

    def compare_values(self, a: AdminCredentials, b: AdminCredentials) -> list[str]:
        return _fields(a, b, _CREDENTIAL_FIELDS)

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[AdminCredentials]) -> None:
        full = k.prefix + record.key
        pipe.delete(full)
        pipe.hset(full, mapping=rules.encode_credentials(record.value))  # type: ignore[arg-type]


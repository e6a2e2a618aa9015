"""Admin credentials on MySQL: the single admin_credentials row (id 1), expiring like upstream's hash."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .. import session_rules as rules
from ..config import Settings
from ..errors import DataError
from ..jsnum import js_json
from ..records import AdminCredentials
from ..timefmt import utcnow
from ..ttl_rules import ttl_ms
from .expiry import EXPIRES_AT, LIVE, keep_close
from .pool import MySQLPool

SELECT_ADMIN_CREDENTIALS = f"""
    SELECT username, password_hash, created_at, last_login, updated_at, extra
    FROM admin_credentials WHERE id = 1 AND {LIVE}
"""

# Replace the row; expires_at is the server's now + TTL, or NULL when %(ttl_ms)s is NULL.
UPSERT_ADMIN_CREDENTIALS = f"""
    INSERT INTO admin_credentials (id, username, password_hash, created_at, last_login, updated_at, extra,
                                   expires_at)
    VALUES (1, %(username)s, %(password_hash)s, %(created_at)s, %(last_login)s, %(updated_at)s, %(extra)s,
            {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE username = %(username)s, password_hash = %(password_hash)s,
        created_at = %(created_at)s, last_login = %(last_login)s, updated_at = %(updated_at)s,
        extra = %(extra)s, expires_at = {EXPIRES_AT}
"""

DELETE_ADMIN_CREDENTIALS = f"DELETE FROM admin_credentials WHERE id = 1 AND {LIVE}"

# --- the migration's row access (absolute expiry, as a copy from Redis stores it) -------------------

SELECT_ADMIN_CREDENTIALS_ROW = f"""
    SELECT username, password_hash, created_at, last_login, updated_at, extra, expires_at
    FROM admin_credentials WHERE id = 1 AND {LIVE}
"""

UPSERT_ADMIN_CREDENTIALS_ROW = f"""INSERT INTO admin_credentials
        (id, username, password_hash, created_at, last_login, updated_at, extra, expires_at)
    VALUES (%(id)s, %(username)s, %(password_hash)s, %(created_at)s, %(last_login)s, %(updated_at)s, %(extra)s,
            %(expires_at)s)
    ON DUPLICATE KEY UPDATE username = VALUES(username), password_hash = VALUES(password_hash),
        created_at = VALUES(created_at), last_login = VALUES(last_login), updated_at = VALUES(updated_at),
        extra = VALUES(extra), {keep_close()}"""

DELETE_ADMIN_CREDENTIALS_ROW = "DELETE FROM admin_credentials WHERE id = 1"


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=timezone.utc)


def from_row(row: dict[str, Any]) -> AdminCredentials:
    """The record of an admin_credentials row; DataError when its extra column is not JSON."""
    try:
        extra = json.loads(row["extra"] or "{}")
    except ValueError:
        raise DataError("admin_credentials row: column extra is not valid JSON") from None
    return AdminCredentials(username=row["username"], password_hash=row["password_hash"],
                            created_at=_aware(row["created_at"]), last_login=_aware(row["last_login"]),
                            updated_at=_aware(row["updated_at"]), extra=extra)


class MySQLAdmin:
    """store.admin on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    def get_credentials(self) -> AdminCredentials | None:
        """The admin login, or None when unset or expired (upstream then reloads data/init.json)."""
        row = self._pool.fetchone(SELECT_ADMIN_CREDENTIALS)
        return None if row is None else from_row(row)

    def set_credentials(self, username: str, password_hash: str, *, created_at: datetime | None = None,
                        last_login: datetime | None = None, updated_at: datetime | None = None,
                        extra: dict[str, Any] | None = None,
                        ttl_seconds: float | None = rules.ADMIN_CREDENTIALS_TTL_SECONDS) -> AdminCredentials:
        """Replace the admin login (bcrypt hash only); ttl_seconds=None keeps it without expiry."""
        ms = None if ttl_seconds is None else ttl_ms(ttl_seconds)
        creds = rules.new_credentials(username, password_hash, created_at=created_at or utcnow(),
                                      last_login=last_login, updated_at=updated_at, extra=extra)
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_ADMIN_CREDENTIALS, {
                "username": creds.username, "password_hash": creds.password_hash,
                "created_at": _naive(creds.created_at), "last_login": _naive(creds.last_login),
                "updated_at": _naive(creds.updated_at), "extra": js_json(creds.extra), "ttl_ms": ms})
        return creds

    def delete_credentials(self) -> bool:
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_ADMIN_CREDENTIALS))

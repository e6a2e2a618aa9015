"""Sticky, admin, user and OAuth sessions on MySQL: one row per session with expires_at (expiry.py).

Writes are upserts (Redis SET/HSET semantics: a write replaces whatever the key held, expired
or not) with expires_at computed on the server; reads and deletes see live rows only. The row
key is the session token itself (see the schema's comment); errors raised here name the kind of
session, never the token.
"""
from __future__ import annotations

from datetime import timezone
from typing import Any

from .. import session_rules as rules
from ..config import Settings
from ..errors import DataError
from ..jsnum import js_json, json_object
from ..records import AdminSession, OAuthSession, UserSession
from ..timefmt import utcnow
from ..ttl_rules import ttl_ms
from .expiry import EXPIRES_AT, LIVE
from .pool import MySQLPool

# --- sticky sessions --------------------------------------------------------------------------------

# Scheduler hot path: one primary-key read.
SELECT_STICKY = f"SELECT account_id FROM sticky_sessions WHERE session_hash = %(session_hash)s AND {LIVE}"

UPSERT_STICKY = f"""
    INSERT INTO sticky_sessions (session_hash, account_id, expires_at)
    VALUES (%(session_hash)s, %(account_id)s, {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE account_id = %(account_id)s, expires_at = {EXPIRES_AT}
"""

# Renew to the full TTL only a live mapping with less than the threshold left, then report whether
# the mapping is live; both in one round trip (pool.batch).
RENEW_STICKY = f"""
    UPDATE sticky_sessions SET expires_at = {EXPIRES_AT}
    WHERE session_hash = %(session_hash)s AND expires_at > UTC_TIMESTAMP(3)
      AND expires_at < DATE_ADD(UTC_TIMESTAMP(3), INTERVAL %(threshold_ms)s * 1000 MICROSECOND);
    {SELECT_STICKY}
"""

DELETE_STICKY = f"DELETE FROM sticky_sessions WHERE session_hash = %(session_hash)s AND {LIVE}"

# --- admin sessions ---------------------------------------------------------------------------------

UPSERT_ADMIN_SESSION = f"""
    INSERT INTO admin_sessions (token, username, login_time, last_activity, extra, expires_at)
    VALUES (%(token)s, %(username)s, %(login_time)s, %(last_activity)s, %(extra)s, {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE username = %(username)s, login_time = %(login_time)s,
        last_activity = %(last_activity)s, extra = %(extra)s, expires_at = {EXPIRES_AT}
"""

SELECT_ADMIN_SESSION = f"""
    SELECT username, login_time, last_activity, extra FROM admin_sessions
    WHERE token = %(token)s AND {LIVE}
"""

# /auth/refresh: move lastActivity and re-arm the TTL of a live session, then read it back; one trip.
TOUCH_ADMIN_SESSION = f"""
    UPDATE admin_sessions SET last_activity = %(now)s, expires_at = {EXPIRES_AT}
    WHERE token = %(token)s AND {LIVE};
    {SELECT_ADMIN_SESSION}
"""

DELETE_ADMIN_SESSION = f"DELETE FROM admin_sessions WHERE token = %(token)s AND {LIVE}"

# --- user sessions ----------------------------------------------------------------------------------

UPSERT_USER_SESSION = f"""
    INSERT INTO user_sessions (token, user_id, data, expires_at)
    VALUES (%(token)s, %(user_id)s, %(data)s, {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE user_id = %(user_id)s, data = %(data)s, expires_at = {EXPIRES_AT}
"""

SELECT_USER_SESSION = f"SELECT data FROM user_sessions WHERE token = %(token)s AND {LIVE}"

DELETE_USER_SESSION = f"DELETE FROM user_sessions WHERE token = %(token)s AND {LIVE}"

# Upstream's invalidateUserSessions (a SCAN there); ix_user_sessions_user here.
DELETE_USER_SESSIONS_BY_USER = f"DELETE FROM user_sessions WHERE user_id = %(user_id)s AND {LIVE}"

# Dual mode: the tokens of a user's rows (ix_user_sessions_user), whose Redis keys a SCAN-based
# delete_user_sessions may have removed.
SELECT_USER_SESSION_TOKENS_BY_USER = "SELECT token FROM user_sessions WHERE user_id = %(user_id)s"

# --- OAuth sessions ---------------------------------------------------------------------------------

UPSERT_OAUTH_SESSION = f"""
    INSERT INTO oauth_sessions (session_id, data, expires_at)
    VALUES (%(session_id)s, %(data)s, {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE data = %(data)s, expires_at = {EXPIRES_AT}
"""

SELECT_OAUTH_SESSION = f"SELECT data FROM oauth_sessions WHERE session_id = %(session_id)s AND {LIVE}"

DELETE_OAUTH_SESSION = f"DELETE FROM oauth_sessions WHERE session_id = %(session_id)s AND {LIVE}"


def _naive(value: Any) -> Any:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(value: Any) -> Any:
    return None if value is None else value.replace(tzinfo=timezone.utc)


def _json_object(text: str, label: str) -> dict[str, Any]:
    return json_object(text, f"{label}: stored value")


def user_session_tokens(pool: MySQLPool, user_id: str) -> list[str]:
    """Every stored session token of a user, live or expired."""
    return [row["token"] for row in pool.fetchall(SELECT_USER_SESSION_TOKENS_BY_USER, {"user_id": user_id})]


class MySQLSessions:
    """store.sessions on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    # --- sticky -------------------------------------------------------------------------------------

    def get_sticky(self, session_hash: str) -> str | None:
        """The account this conversation is pinned to, or None; one indexed read."""
        rules.check_sticky(session_hash)
        row = self._pool.fetchone(SELECT_STICKY, {"session_hash": session_hash})
        return row["account_id"] if row else None

    def set_sticky(self, session_hash: str, account_id: str, *,
                   ttl_seconds: float = rules.STICKY_SESSION_TTL_SECONDS) -> None:
        """Pin a conversation to an account for ttl_seconds; one upsert."""
        rules.check_sticky(session_hash, account_id)
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_STICKY, {"session_hash": session_hash, "account_id": account_id,
                                        "ttl_ms": ttl_ms(ttl_seconds)})

    def renew_sticky(self, session_hash: str, *, ttl_seconds: float = rules.STICKY_SESSION_TTL_SECONDS,
                     threshold_seconds: float = 0) -> bool:
        """Back to the full TTL once fewer than threshold_seconds remain (0 = never); False when gone."""
        rules.check_sticky(session_hash)
        threshold_ms = int(threshold_seconds * 1000)
        params = {"session_hash": session_hash, "ttl_ms": ttl_ms(ttl_seconds), "threshold_ms": threshold_ms}
        if threshold_ms <= 0:
            return self._pool.fetchone(SELECT_STICKY, params) is not None
        _, rows = self._pool.batch(RENEW_STICKY, params)
        return bool(rows)

    def delete_sticky(self, session_hash: str) -> bool:
        rules.check_sticky(session_hash)
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_STICKY, {"session_hash": session_hash}))

    # --- admin sessions -----------------------------------------------------------------------------

    @staticmethod
    def _admin_from_row(token: str, row: dict[str, Any]) -> AdminSession:
        return AdminSession(token=token, username=row["username"], login_time=_aware(row["login_time"]),
                            last_activity=_aware(row["last_activity"]),
                            extra=_json_object(row["extra"] or "{}", "admin_sessions row (extra)"))

    def create_admin_session(self, username: str, *, ttl_seconds: float = rules.ADMIN_SESSION_TTL_SECONDS,
                             token: str | None = None, extra: dict[str, Any] | None = None) -> AdminSession:
        """A new admin login (64-hex token unless given); upstream's TTL is ~1,000 days."""
        ms = ttl_ms(ttl_seconds)
        session = rules.new_admin_session(username, now=utcnow(), token=token, extra=extra)
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_ADMIN_SESSION, {
                "token": session.token, "username": session.username,
                "login_time": _naive(session.login_time), "last_activity": _naive(session.last_activity),
                "extra": js_json(session.extra), "ttl_ms": ms})
        return session

    def get_admin_session(self, token: str) -> AdminSession | None:
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return None
        row = self._pool.fetchone(SELECT_ADMIN_SESSION, {"token": token})
        return self._admin_from_row(token, row) if row else None

    def touch_admin_session(self, token: str, *,
                            ttl_seconds: float = rules.ADMIN_SESSION_TTL_SECONDS) -> AdminSession | None:
        """lastActivity = now and the TTL re-armed, as upstream's /auth/refresh; None when gone."""
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return None
        params = {"token": token, "now": _naive(utcnow()), "ttl_ms": ttl_ms(ttl_seconds)}
        _, rows = self._pool.batch(TOUCH_ADMIN_SESSION, params)
        return self._admin_from_row(token, rows[0]) if rows else None

    def delete_admin_session(self, token: str) -> bool:
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return False
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_ADMIN_SESSION, {"token": token}))

    # --- user sessions ------------------------------------------------------------------------------

    def create_user_session(self, user_id: str, *, ttl_seconds: float = rules.USER_SESSION_TTL_SECONDS,
                            token: str | None = None, data: dict[str, Any] | None = None) -> UserSession:
        """Upstream's createUserSession: {token, userId, createdAt, expiresAt, ...data} for the TTL."""
        ms = ttl_ms(ttl_seconds)
        session = rules.new_user_session(user_id, now=utcnow(), ttl_ms=ms, token=token, data=data)
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_USER_SESSION, {"token": session.token, "user_id": user_id, "ttl_ms": ms,
                                              "data": rules.encode_user_session(session)})
        return session

    def get_user_session(self, token: str) -> UserSession | None:
        rules.check_token(token)
        row = self._pool.fetchone(SELECT_USER_SESSION, {"token": token})
        return rules.decode_user_session(token, row["data"], "user_sessions row") if row else None

    def delete_user_session(self, token: str) -> bool:
        rules.check_token(token)
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_USER_SESSION, {"token": token}))

    def delete_user_sessions(self, user_id: str) -> int:
        """End every session of a user; returns how many live ones were deleted."""
        with self._pool.cursor() as cur:
            return int(cur.execute(DELETE_USER_SESSIONS_BY_USER, {"user_id": user_id}))

    # --- OAuth sessions -----------------------------------------------------------------------------

    def create_oauth_session(self, *, code_verifier: str = "", state: str = "", code_challenge: str = "",
                             proxy: dict[str, Any] | None = None, platform: str = "",
                             ttl_seconds: float = rules.OAUTH_SESSION_TTL_SECONDS,
                             session_id: str | None = None, **extra: Any) -> OAuthSession:
        """Park an OAuth flow's state (a UUID session id unless given); 600 s as upstream."""
        ms = ttl_ms(ttl_seconds)
        session = rules.new_oauth_session(now=utcnow(), ttl_ms=ms, session_id=session_id,
                                          code_verifier=code_verifier, state=state,
                                          code_challenge=code_challenge, proxy=proxy, platform=platform,
                                          extra=extra)
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_OAUTH_SESSION, {"session_id": session.session_id, "ttl_ms": ms,
                                               "data": js_json(rules.encode_oauth(session))})
        return session

    def get_oauth_session(self, session_id: str) -> OAuthSession | None:
        rules.check_token(session_id, "session_id")
        row = self._pool.fetchone(SELECT_OAUTH_SESSION, {"session_id": session_id})
        if row is None:
            return None
        data = _json_object(row["data"], "oauth_sessions row")
        if not all(isinstance(v, str) for v in data.values()):
            raise DataError("oauth_sessions row: stored fields are not all strings")
        return rules.decode_oauth(session_id, data, "oauth_sessions row")

    def delete_oauth_session(self, session_id: str) -> bool:
        rules.check_token(session_id, "session_id")
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_OAUTH_SESSION, {"session_id": session_id}))

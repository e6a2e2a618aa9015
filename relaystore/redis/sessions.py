"""Sticky, admin, user and OAuth sessions on Redis in upstream's layout (see session_rules).

TTLs are set with PX/PEXPIRE in the same MULTI as the write, so a session never exists without
its expiry. Error messages and DataError labels never contain a token: the Redis key of a
session *is* its token, so decoders get a redacted label instead of the key.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import redis

from .. import session_rules as rules
from ..config import Settings
from ..records import AdminSession, OAuthSession, UserSession
from ..timefmt import utcnow
from ..ttl_rules import ttl_ms
from .client import redis_errors
from .keys import Keys

SCAN_COUNT = 1000


def _mapping(fields: Mapping[str, str]) -> Any:
    """An HSET mapping (redis-py's stubs want a wider value type than our str -> str)."""
    return dict(fields)


def delete_user_sessions(client: redis.Redis, keys: Keys, user_id: str) -> int:
    """Upstream's invalidateUserSessions: SCAN user_session:*, delete those whose userId matches."""
    deleted = 0
    batch: list[str] = []

    def flush() -> int:
        if not batch:
            return 0
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.get(key)
        doomed = []
        for key, text in zip(batch, pipe.execute(raise_on_error=False)):
            if not isinstance(text, str):
                continue
            try:
                data = json.loads(text)
            except ValueError:
                continue  # not ours to judge here; get_user_session reports it
            if isinstance(data, dict) and data.get("userId") == user_id:
                doomed.append(key)
        batch.clear()
        return int(client.delete(*doomed)) if doomed else 0

    for key in client.scan_iter(match=keys.glob("user_session:*"), count=SCAN_COUNT):
        batch.append(key)
        if len(batch) >= SCAN_COUNT:
            deleted += flush()
    return deleted + flush()


class RedisSessions:
    """store.sessions on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    # --- sticky sessions: sticky_session:{hash} STRING accountId -----------------------------------

    def get_sticky(self, session_hash: str) -> str | None:
        """The account this conversation is pinned to, or None; one GET."""
        rules.check_sticky(session_hash)
        with redis_errors():
            return cast("str | None", self._r.get(self._k.sticky_session(session_hash)))

    def set_sticky(self, session_hash: str, account_id: str, *,
                   ttl_seconds: float = rules.STICKY_SESSION_TTL_SECONDS) -> None:
        """Pin a conversation to an account for ttl_seconds (upstream: SET ... EX stickyTtlHours*3600)."""
        rules.check_sticky(session_hash, account_id)
        with redis_errors():
            self._r.set(self._k.sticky_session(session_hash), account_id, px=ttl_ms(ttl_seconds))

    def renew_sticky(self, session_hash: str, *, ttl_seconds: float = rules.STICKY_SESSION_TTL_SECONDS,
                     threshold_seconds: float = 0) -> bool:
        """Upstream's extendSessionAccountMappingTTL: back to the full TTL once fewer than
        threshold_seconds remain (0 = never renew); False when the mapping is gone."""
        rules.check_sticky(session_hash)
        full = ttl_ms(ttl_seconds)
        key = self._k.sticky_session(session_hash)
        with redis_errors():
            remaining = self._r.pttl(key)
            if remaining == -2:
                return False
            if threshold_seconds > 0 and 0 <= remaining < threshold_seconds * 1000:
                self._r.pexpire(key, full)
        return True

    def delete_sticky(self, session_hash: str) -> bool:
        rules.check_sticky(session_hash)
        with redis_errors():
            return bool(self._r.delete(self._k.sticky_session(session_hash)))

    # --- admin sessions: session:{token} HASH -----------------------------------------------------

    def create_admin_session(self, username: str, *, ttl_seconds: float = rules.ADMIN_SESSION_TTL_SECONDS,
                             token: str | None = None, extra: dict[str, Any] | None = None) -> AdminSession:
        """A new admin login (64-hex token unless given); upstream's TTL is ~1,000 days."""
        ms = ttl_ms(ttl_seconds)
        session = rules.new_admin_session(username, now=utcnow(), token=token, extra=extra)
        key = self._k.admin_session(session.token)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=_mapping(rules.encode_admin_session(session)))
            pipe.pexpire(key, ms)
            pipe.execute()
        return session

    def get_admin_session(self, token: str) -> AdminSession | None:
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return None
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(self._k.admin_session(token)))
        return rules.decode_admin_session(token, data) if data else None

    def touch_admin_session(self, token: str, *,
                            ttl_seconds: float = rules.ADMIN_SESSION_TTL_SECONDS) -> AdminSession | None:
        """Upstream's /auth/refresh: lastActivity = now and the TTL re-armed; None when gone."""
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return None
        ms = ttl_ms(ttl_seconds)
        key = self._k.admin_session(token)
        result: list[AdminSession] = []

        def work(pipe: Any) -> None:
            result.clear()
            data = pipe.hgetall(key)
            if not data:
                return
            data["lastActivity"] = rules.hash_value(utcnow())
            pipe.multi()
            pipe.hset(key, "lastActivity", data["lastActivity"])
            pipe.pexpire(key, ms)
            result.append(rules.decode_admin_session(token, data))

        with redis_errors():
            self._r.transaction(work, key)
        return result[0] if result else None

    def delete_admin_session(self, token: str) -> bool:
        rules.check_token(token)
        if rules.is_reserved_admin_token(token):
            return False
        with redis_errors():
            return bool(self._r.delete(self._k.admin_session(token)))

    # --- user sessions: user_session:{token} STRING JSON ------------------------------------------

    def create_user_session(self, user_id: str, *, ttl_seconds: float = rules.USER_SESSION_TTL_SECONDS,
                            token: str | None = None, data: dict[str, Any] | None = None) -> UserSession:
        """Upstream's createUserSession: SETEX of {token, userId, createdAt, expiresAt, ...data}."""
        ms = ttl_ms(ttl_seconds)
        session = rules.new_user_session(user_id, now=utcnow(), ttl_ms=ms, token=token, data=data)
        with redis_errors():
            self._r.set(self._k.user_session(session.token), rules.encode_user_session(session), px=ms)
        return session

    def get_user_session(self, token: str) -> UserSession | None:
        rules.check_token(token)
        with redis_errors():
            text = cast("str | None", self._r.get(self._k.user_session(token)))
        return rules.decode_user_session(token, text) if text is not None else None

    def delete_user_session(self, token: str) -> bool:
        rules.check_token(token)
        with redis_errors():
            return bool(self._r.delete(self._k.user_session(token)))

    def delete_user_sessions(self, user_id: str) -> int:
        """End every session of a user (SCAN, as upstream); returns how many were deleted."""
        with redis_errors():
            return delete_user_sessions(self._r, self._k, user_id)

    # --- OAuth sessions: oauth:{sessionId} HASH ---------------------------------------------------

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
        key = self._k.oauth_session(session.session_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=_mapping(rules.encode_oauth(session)))
            pipe.pexpire(key, ms)
            pipe.execute()
        return session

    def get_oauth_session(self, session_id: str) -> OAuthSession | None:
        rules.check_token(session_id, "session_id")
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(self._k.oauth_session(session_id)))
        return rules.decode_oauth(session_id, data) if data else None

    def delete_oauth_session(self, session_id: str) -> bool:
        rules.check_token(session_id, "session_id")
        with redis_errors():
            return bool(self._r.delete(self._k.oauth_session(session_id)))

"""Backend-neutral session rules: upstream's TTLs, token formats and value encodings.

Each session kind has one encoder and one decoder here, used by both backends, so the MySQL
backend stores exactly the fields upstream's Redis keys hold and a migration can copy them
either way:

| kind | upstream key | value | default TTL |
|---|---|---|---|
| admin session | `session:{token}` | HASH username, loginTime, lastActivity | 86,400,000 s (upstream passes its millisecond setting as seconds: ~1,000 days) |
| admin credentials | `session:admin_credentials` | HASH username, passwordHash, createdAt, lastLogin, updatedAt | 86,400 s |
| user session | `user_session:{token}` | STRING JSON {token, userId, createdAt, expiresAt, ...data} | 86,400 s |
| OAuth session | `oauth:{sessionId}` | HASH, objects JSON-stringified, null as "" | 600 s |
| sticky session | `sticky_session:{hash}` | STRING accountId | 3,600 s (stickyTtlHours 1) |

Tokens and OAuth state are secrets: messages built here name the kind of value, never the value
(a DataError's `label` is a redacted description such as "admin session", not the Redis key).
"""
from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import DataError, InvalidInput
from .jsnum import js_json, js_number
from .records import AdminCredentials, AdminSession, OAuthSession, UserSession
from .timefmt import parse_iso, to_iso
from .ttl_rules import check_ascii_id, check_text, check_text_id, ms_time

ADMIN_SESSION_TTL_SECONDS = 86_400_000
ADMIN_CREDENTIALS_TTL_SECONDS = 86_400
USER_SESSION_TTL_SECONDS = 86_400
OAUTH_SESSION_TTL_SECONDS = 600
STICKY_SESSION_TTL_SECONDS = 3_600

TOKEN_MAX = 128            # session tokens and OAuth session ids (upstream: 64 hex / a UUID)
STICKY_HASH_MAX = 255
ACCOUNT_ID_MAX = 255
NAME_MAX = 255             # admin usernames
USER_ID_MAX = 64
RESERVED_ADMIN_TOKEN = "admin_credentials"   # session:admin_credentials is the credentials hash

# bcrypt's modular-crypt form: $2a$/$2b$/$2x$/$2y$, two-digit cost, 53 characters of salt+hash.
_BCRYPT = re.compile(r"^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$")


def new_token() -> str:
    """Upstream's session token: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_hex(32)


def check_token(token: object, what: str = "token") -> str:
    return check_ascii_id(token, what, TOKEN_MAX)


def check_admin_token(token: object) -> str:
    """An admin session token; "admin_credentials" would overwrite the credentials hash."""
    value = check_token(token)
    if value == RESERVED_ADMIN_TOKEN:
        raise InvalidInput("token 'admin_credentials' is reserved for the admin credentials")
    return value


def check_sticky(session_hash: object, account_id: object | None = None) -> None:
    check_text_id(session_hash, "session_hash", STICKY_HASH_MAX)
    if account_id is not None:
        check_text_id(account_id, "account_id", ACCOUNT_ID_MAX)


def is_reserved_admin_token(token: str) -> bool:
    """True for the one name under session: that is not a session; lookups must treat it as unknown
    (on Redis, session:admin_credentials would otherwise read, touch or delete the admin login)."""
    return token == RESERVED_ADMIN_TOKEN


def check_password_hash(password_hash: object) -> str:
    """Only a bcrypt hash may be stored; a plain password is refused (and never echoed)."""
    if not isinstance(password_hash, str) or not _BCRYPT.fullmatch(password_hash):
        raise InvalidInput("password_hash must be a bcrypt hash ($2a$/$2b$/$2y$...), not a password")
    return password_hash


def _time_field(value: str, label: str, field: str) -> datetime | None:
    if value == "":
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise DataError(f"{label}: field {field} is not an ISO timestamp") from None


def _enc_time(value: datetime | None) -> str:
    return "" if value is None else to_iso(value)


def hash_value(value: Any) -> str:
    """A value as upstream's HSET of a JS object leaves it: objects as JSON, null as "", numbers as String(n)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, datetime):
        return to_iso(value)
    try:
        return js_json(value)
    except TypeError:
        raise InvalidInput(f"a {type(value).__name__} cannot be stored in a session field") from None


def _check_extra(extra: Mapping[str, Any], reserved: tuple[str, ...]) -> dict[str, str]:
    """Caller-supplied extra hash fields, encoded as upstream would store them."""
    out: dict[str, str] = {}
    for name, value in extra.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput("extra field names must be non-empty strings")
        if name in reserved:
            raise InvalidInput(f"extra must not hold the modelled field {name}")
        out[name] = hash_value(value)
    return out


# --- admin sessions: session:{token} HASH --------------------------------------------------------

ADMIN_SESSION_FIELDS = ("username", "loginTime", "lastActivity")


def new_admin_session(username: str, *, now: datetime, token: str | None = None,
                      extra: Mapping[str, Any] | None = None) -> AdminSession:
    check_text(username, "username", NAME_MAX, empty=False)
    return AdminSession(token=new_token() if token is None else check_admin_token(token), username=username,
                        login_time=now, last_activity=now,
                        extra=_check_extra(extra or {}, ADMIN_SESSION_FIELDS))


def encode_admin_session(session: AdminSession) -> dict[str, str]:
    return {"username": session.username, "loginTime": _enc_time(session.login_time),
            "lastActivity": _enc_time(session.last_activity), **session.extra}


def decode_admin_session(token: str, data: Mapping[str, str], label: str = "admin session") -> AdminSession:
    extra = {k: v for k, v in data.items() if k not in ADMIN_SESSION_FIELDS}
    return AdminSession(token=token, username=data.get("username", ""),
                        login_time=_time_field(data.get("loginTime", ""), label, "loginTime"),
                        last_activity=_time_field(data.get("lastActivity", ""), label, "lastActivity"),
                        extra=extra)


# --- admin credentials: session:admin_credentials HASH -------------------------------------------

CREDENTIAL_FIELDS = ("username", "passwordHash", "createdAt", "lastLogin", "updatedAt")


def new_credentials(username: str, password_hash: str, *, created_at: datetime | None,
                    last_login: datetime | None, updated_at: datetime | None,
                    extra: Mapping[str, Any] | None) -> AdminCredentials:
    check_text(username, "username", NAME_MAX, empty=False)
    return AdminCredentials(username=username, password_hash=check_password_hash(password_hash),
                            created_at=ms_time(created_at, "created_at"),
                            last_login=ms_time(last_login, "last_login"),
                            updated_at=ms_time(updated_at, "updated_at"),
                            extra=_check_extra(extra or {}, CREDENTIAL_FIELDS))


def encode_credentials(creds: AdminCredentials) -> dict[str, str]:
    return {"username": creds.username, "passwordHash": creds.password_hash,
            "createdAt": _enc_time(creds.created_at), "lastLogin": _enc_time(creds.last_login),
            "updatedAt": _enc_time(creds.updated_at), **creds.extra}


def decode_credentials(data: Mapping[str, str], label: str = "admin credentials") -> AdminCredentials:
    extra = {k: v for k, v in data.items() if k not in CREDENTIAL_FIELDS}
    return AdminCredentials(username=data.get("username", ""), password_hash=data.get("passwordHash", ""),
                            created_at=_time_field(data.get("createdAt", ""), label, "createdAt"),
                            last_login=_time_field(data.get("lastLogin", ""), label, "lastLogin"),
                            updated_at=_time_field(data.get("updatedAt", ""), label, "updatedAt"),
                            extra=extra)


# --- user sessions: user_session:{token} STRING JSON ---------------------------------------------

USER_SESSION_KEYS = ("token", "userId", "createdAt", "expiresAt")


def new_user_session(user_id: str, *, now: datetime, ttl_ms: int, token: str | None = None,
                     data: Mapping[str, Any] | None = None) -> UserSession:
    """Upstream's createUserSession: expiresAt = now + timeout; `data` is merged into the JSON."""
    check_ascii_id(user_id, "user_id", USER_ID_MAX)
    extra = dict(data or {})
    clash = sorted(set(extra) & set(USER_SESSION_KEYS))
    if clash:
        raise InvalidInput(f"session data must not hold the modelled fields {', '.join(clash)}")
    try:
        js_json(extra)
    except TypeError as exc:
        raise InvalidInput(f"session data must hold JSON values: {exc}") from None
    return UserSession(token=new_token() if token is None else check_token(token), user_id=user_id,
                       created_at=now, expires_at=now + timedelta(milliseconds=ttl_ms), extra=extra)


def encode_user_session(session: UserSession) -> str:
    return js_json({"token": session.token, "userId": session.user_id,
                    "createdAt": _enc_time(session.created_at) or None,
                    "expiresAt": _enc_time(session.expires_at) or None, **session.extra})


def decode_user_session(token: str, text: str, label: str = "user session") -> UserSession:
    try:
        data = json.loads(text)
    except ValueError:
        raise DataError(f"{label}: value is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("userId"), str):
        raise DataError(f"{label}: value is not a session object with a userId")
    times = {}
    for key in ("createdAt", "expiresAt"):
        raw = data.get(key)
        times[key] = _time_field(raw if isinstance(raw, str) else "", label, key)
    return UserSession(token=token, user_id=data["userId"], created_at=times["createdAt"],
                       expires_at=times["expiresAt"],
                       extra={k: v for k, v in data.items() if k not in USER_SESSION_KEYS})


# --- OAuth sessions: oauth:{sessionId} HASH ------------------------------------------------------

OAUTH_FIELDS = ("codeVerifier", "state", "codeChallenge", "proxy", "platform", "createdAt", "expiresAt")


def new_oauth_session(*, now: datetime, ttl_ms: int, session_id: str | None, code_verifier: str,
                      state: str, code_challenge: str, proxy: dict[str, Any] | None, platform: str,
                      extra: Mapping[str, Any]) -> OAuthSession:
    """Upstream's generate-auth-url record: createdAt now, expiresAt now + TTL."""
    for name, value in (("code_verifier", code_verifier), ("state", state),
                        ("code_challenge", code_challenge), ("platform", platform)):
        check_text(value, name, 4096)
    if proxy is not None and not isinstance(proxy, dict):
        raise InvalidInput(f"proxy must be a dict or None, got {type(proxy).__name__}")
    if proxy is not None:
        hash_value(proxy)
    # upstream names the flow with crypto.randomUUID()
    sid = str(uuid.uuid4()) if session_id is None else check_token(session_id, "session_id")
    return OAuthSession(session_id=sid, code_verifier=code_verifier, state=state,
                        code_challenge=code_challenge, proxy=proxy, platform=platform, created_at=now,
                        expires_at=now + timedelta(milliseconds=ttl_ms),
                        extra=_check_extra(extra, OAUTH_FIELDS))


def encode_oauth(session: OAuthSession) -> dict[str, str]:
    out = {"codeVerifier": session.code_verifier, "state": session.state,
           "codeChallenge": session.code_challenge, "proxy": hash_value(session.proxy)}
    if session.platform:
        out["platform"] = session.platform
    out.update(createdAt=_enc_time(session.created_at), expiresAt=_enc_time(session.expires_at))
    out.update(session.extra)
    return out


def decode_oauth(session_id: str, data: Mapping[str, str], label: str = "OAuth session") -> OAuthSession:
    proxy: dict[str, Any] | None = None
    if data.get("proxy"):
        try:  # upstream: JSON.parse, and null when that fails
            parsed = json.loads(data["proxy"])
            proxy = parsed if isinstance(parsed, dict) else None
        except ValueError:
            proxy = None
    return OAuthSession(session_id=session_id, code_verifier=data.get("codeVerifier", ""),
                        state=data.get("state", ""), code_challenge=data.get("codeChallenge", ""),
                        proxy=proxy, platform=data.get("platform", ""),
                        created_at=_time_field(data.get("createdAt", ""), label, "createdAt"),
                        expires_at=_time_field(data.get("expiresAt", ""), label, "expiresAt"),
                        extra={k: v for k, v in data.items() if k not in OAUTH_FIELDS})

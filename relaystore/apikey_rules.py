"""Backend-neutral API-key rules: key generation and hashing, defaults, updatable fields, auth verdicts."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidInput
from .records import ApiKey

MIN_RAW_KEY_LENGTH, MAX_RAW_KEY_LENGTH = 10, 512

# Fields create()/update() may set; identity, hash and lifecycle fields move only through the DAO.
_MANAGED = {"id", "key_hash", "created_at", "is_deleted", "deleted_at", "deleted_by", "deleted_by_type",
            "restored_at", "restored_by", "restored_by_type"}
SETTABLE_FIELDS = frozenset(f.name for f in fields(ApiKey)) - _MANAGED
TAG_MAX_CHARS = 191   # api_key_tags.tag VARCHAR(191): the widest utf8mb4 column InnoDB indexes in full
_TUPLE_FIELDS = {"permissions", "restricted_models", "allowed_clients", "tags", "openai_responses_payload_rules"}


def generate_raw_key(prefix: str) -> str:
    """Upstream's format: prefix + 64 lowercase hex chars (32 random bytes)."""
    return prefix + secrets.token_hex(32)


def hash_raw_key(raw_key: str, encryption_key: str) -> str:
    """Upstream's stored hash: hex(SHA-256(utf8(raw_key + ENCRYPTION_KEY))), no HMAC, no separator."""
    return hashlib.sha256((raw_key + encryption_key).encode("utf-8")).hexdigest()


def plausible_raw_key(raw_key: object, prefix: str) -> bool:
    """Upstream's pre-lookup checks: a string of 10..512 chars starting with the prefix."""
    return (isinstance(raw_key, str) and MIN_RAW_KEY_LENGTH <= len(raw_key) <= MAX_RAW_KEY_LENGTH
            and raw_key.startswith(prefix))


def _coerce(name: str, value: Any) -> Any:
    """Normalise a caller's value for field `name`; lists become tuples, permissions accept a word."""
    if name == "permissions" and isinstance(value, str):
        return () if value in ("", "all") else (value,)
    if name in _TUPLE_FIELDS:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise InvalidInput(f"{name} must be a list, got {type(value).__name__}")
        value = tuple(value)
        if name == "tags":
            check_tags(value)
    return value


def check_tags(tags: tuple[Any, ...]) -> None:
    """Tags are strings of at most TAG_MAX_CHARS characters on both backends (MySQL's tag index width)."""
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidInput(f"tags must be strings, got {type(tag).__name__}")
        if len(tag) > TAG_MAX_CHARS:
            raise InvalidInput(f"a tag is {len(tag)} characters long; the limit is {TAG_MAX_CHARS}")


def check_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown or managed fields by name; return the values coerced for the record."""
    unknown = sorted(set(values) - SETTABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"API key fields cannot be set: {', '.join(unknown)}")
    return {name: _coerce(name, value) for name, value in values.items()}


def new_api_key(name: str, settings: dict[str, Any], *, prefix: str, encryption_key: str,
                now: datetime) -> tuple[ApiKey, str]:
    """Build the record and raw key for create(), with upstream's creation defaults."""
    if not isinstance(name, str):
        raise InvalidInput(f"name must be a string, got {type(name).__name__}")
    values = check_settings(settings)
    raw = generate_raw_key(prefix)
    activation = values.get("expiration_mode", "fixed") == "activation"
    values.setdefault("is_activated", not activation)
    values.setdefault("activated_at", None if activation else now)
    if activation:
        values["expires_at"] = None  # set at first use
    key = ApiKey(id=str(uuid.uuid4()), name=name, key_hash=hash_raw_key(raw, encryption_key),
                 created_at=now, **values)
    return key, raw


def apply_update(key: ApiKey, values: dict[str, Any]) -> ApiKey:
    """The record after update(key_id, **values)."""
    return replace(key, **check_settings(values))


def needs_activation(key: ApiKey) -> bool:
    """True for an activation-mode key on its first use."""
    return key.expiration_mode == "activation" and not key.is_activated


def activate(key: ApiKey, now: datetime) -> ApiKey:
    """Upstream's first-use activation: expiry = now + activationDays (default 30) days or hours."""
    period = int(key.activation_days or 30)
    delta = timedelta(hours=period) if key.activation_unit == "hours" else timedelta(days=period)
    return replace(key, is_activated=True, activated_at=now, expires_at=now + delta, last_used_at=now)


def refusal(key: ApiKey, now: datetime) -> str | None:
    """Why this key may not authenticate now (deleted|inactive|expired), or None; run after activation."""
    if key.is_deleted:
        return "deleted"
    if not key.is_active:
        return "inactive"
    if key.expires_at is not None and now > key.expires_at:
        return "expired"
    return None

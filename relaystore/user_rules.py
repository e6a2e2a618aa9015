"""Backend-neutral user rules: ids, creation defaults, updatable fields, upstream's user:{id} JSON.

Upstream (userService.js) writes the whole user object with JSON.stringify: keys that are
`undefined` are dropped, `lastLoginAt` starts as null, `deletedAt` appears on soft delete.
Both backends build and read records through to_json()/from_json() here, so a user looks the
same whichever backend stored it. The username is the identity upstream looks users up by
(username:{username}); it cannot change after creation.
"""
from __future__ import annotations

import secrets
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from .errors import DataError, InvalidInput
from .jsnum import js_json, json_object
from .records import User
from .timefmt import parse_iso, to_iso
from .ttl_rules import check_ascii_id, check_text, ms_time

USER_ID_MAX = 64
USERNAME_MAX = 191   # uq_users_username: 191 utf8mb4 characters fit any InnoDB index
ROLE_MAX = 64
TEXT_MAX = 16_383     # a TEXT column holds 65,535 bytes: 16,383 four-byte characters
DEFAULT_TOTAL_USAGE = {"requests": 0, "inputTokens": 0, "outputTokens": 0, "totalCost": 0}

# (record attribute, upstream JSON key, kind); the order is upstream's creation order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("id", "id", "str"), ("username", "username", "str"), ("email", "email", "str?"),
    ("display_name", "displayName", "str?"), ("first_name", "firstName", "str?"),
    ("last_name", "lastName", "str?"), ("role", "role", "str"), ("is_active", "isActive", "bool"),
    ("created_at", "createdAt", "time"), ("updated_at", "updatedAt", "time"),
    ("last_login_at", "lastLoginAt", "time"), ("api_key_count", "apiKeyCount", "int"),
    ("total_usage", "totalUsage", "obj"), ("deleted_at", "deletedAt", "time?"),
)
_BY_UPSTREAM = {upstream: (attr, kind) for attr, upstream, kind in FIELDS}
SETTABLE_FIELDS = frozenset({"email", "display_name", "first_name", "last_name", "role", "is_active",
                             "last_login_at", "api_key_count", "total_usage", "extra"})
assert {a for a, _, _ in FIELDS} | {"extra"} == {f.name for f in fields(User)}


def new_user_id() -> str:
    """Upstream's user id: 16 random bytes as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def _coerce(name: str, value: Any) -> Any:
    if name in ("email", "display_name", "first_name", "last_name"):
        return None if value is None else check_text(value, name, TEXT_MAX)
    if name == "role":
        return check_text(value, name, ROLE_MAX, empty=False)
    if name == "is_active":
        if not isinstance(value, bool):
            raise InvalidInput(f"is_active must be a bool, got {type(value).__name__}")
        return value
    if name == "last_login_at":
        return ms_time(value, name)
    if name == "api_key_count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"api_key_count must be an int, got {type(value).__name__}")
        return value
    if name in ("total_usage", "extra"):
        if not isinstance(value, dict):
            raise InvalidInput(f"{name} must be a dict, got {type(value).__name__}")
        try:
            js_json(value)
        except TypeError as exc:
            raise InvalidInput(f"{name} must hold JSON values: {exc}") from None
        if name == "extra":
            clash = sorted(set(value) & set(_BY_UPSTREAM))
            if clash:
                raise InvalidInput(f"extra must not hold modelled user fields: {', '.join(clash)}")
        return dict(value)
    raise AssertionError(name)


def check_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown or managed fields by name; return the values coerced for the record."""
    unknown = sorted(set(values) - SETTABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"user fields cannot be set: {', '.join(unknown)}")
    return {name: _coerce(name, value) for name, value in values.items()}


def new_user(username: str, values: dict[str, Any], *, now: datetime, user_id: str | None = None) -> User:
    """The record create() stores, with upstream's creation defaults."""
    check_text(username, "username", USERNAME_MAX, empty=False)
    uid = new_user_id() if user_id is None else check_ascii_id(user_id, "user_id", USER_ID_MAX)
    coerced = check_fields(values)
    coerced.setdefault("total_usage", dict(DEFAULT_TOTAL_USAGE))
    return User(id=uid, username=username, created_at=now, updated_at=now, **coerced)


def apply_update(user: User, values: dict[str, Any], *, now: datetime) -> User:
    """The record after update(user_id, **values); updatedAt moves as upstream's writes move it."""
    if "username" in values:
        raise InvalidInput("username cannot be changed (upstream keys users by it)")
    return replace(user, updated_at=now, **check_fields(values))


def soft_deleted(user: User, *, now: datetime) -> User:
    """Upstream's deleteUser: inactive, with deletedAt and updatedAt set."""
    return replace(user, is_active=False, deleted_at=now, updated_at=now)


def to_json(user: User) -> str:
    """Upstream's user:{id} value (None-valued optional strings dropped as JSON.stringify drops undefined)."""
    out: dict[str, Any] = {}
    for attr, upstream, kind in FIELDS:
        value = getattr(user, attr)
        if kind.endswith("?") and value is None:
            continue
        if kind.startswith("time"):
            value = None if value is None else to_iso(value)
        out[upstream] = value
    out.update(user.extra)
    return js_json(out)


def from_json(text: str, label: str) -> User:
    """A record from upstream's JSON; DataError names `label` (the key or row) and the field."""
    data = json_object(text, f"{label}: user record")
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        spec = _BY_UPSTREAM.get(key)
        if spec is None:
            extra[key] = value
            continue
        attr, kind = spec
        if kind.startswith("time"):
            if value in (None, ""):
                value = None
            elif isinstance(value, str):
                try:
                    value = parse_iso(value)
                except ValueError:
                    raise DataError(f"{label}: field {key} is not an ISO timestamp") from None
            else:
                raise DataError(f"{label}: field {key} is not an ISO timestamp")
        elif kind == "bool":
            value = value is True or value == "true"
        elif kind == "int":
            try:
                value = int(value or 0)
            except (TypeError, ValueError):
                raise DataError(f"{label}: field {key} is not a number") from None
        elif kind == "obj":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise DataError(f"{label}: field {key} is not a JSON object")
        elif value is not None and not isinstance(value, str):
            value = str(value)
        values[attr] = value
    if not values.get("id") or values.get("username") is None:
        raise DataError(f"{label}: user record lacks id or username")
    if values.get("role") is None:
        values.pop("role", None)
    return User(extra=extra, **values)

"""Users on MySQL: one typed row per user, the username unique (uq_users_username)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timezone
from typing import Any

from .. import user_rules as rules
from ..config import Settings
from ..errors import AlreadyExists, DataError, InvalidInput, NotFound
from ..jsnum import js_json
from ..records import Page, User
from ..timefmt import utcnow
from . import bulk
from .pool import MySQLPool

COLUMNS = ("id", "username", "email", "display_name", "first_name", "last_name", "role", "is_active",
           "created_at", "updated_at", "last_login_at", "deleted_at", "api_key_count", "total_usage", "extra")
_SELECT_LIST = ", ".join(COLUMNS)
_TIMES = ("created_at", "updated_at", "last_login_at", "deleted_at")

SELECT_USER_BY_ID = f"SELECT {_SELECT_LIST} FROM users WHERE id = %(id)s"
SELECT_USER_BY_ID_FOR_UPDATE = SELECT_USER_BY_ID + " FOR UPDATE"

# get_by_username: one read on uq_users_username (upstream: username:{name} then user:{id}).
SELECT_USER_BY_USERNAME = f"SELECT {_SELECT_LIST} FROM users WHERE username = %(username)s"

INSERT_USER = f"INSERT INTO users ({_SELECT_LIST}) VALUES (" + ", ".join(f"%({c})s" for c in COLUMNS) + ")"

UPDATE_USER = ("UPDATE users SET "
               + ", ".join(f"{c} = %({c})s" for c in COLUMNS if c not in ("id", "username", "created_at"))
               + " WHERE id = %(id)s")

DELETE_USER_SESSIONS_BY_USER = "DELETE FROM user_sessions WHERE user_id = %(user_id)s"
DELETE_USER = "DELETE FROM users WHERE id = %(id)s AND deleted_at IS NOT NULL"

# --- batches (the migration): whole records by id -------------------------------------------------

# Multi-row absolute upsert (bulk.executemany). upsert_users() first makes sure no username belongs
# to another id: ON DUPLICATE KEY UPDATE would otherwise overwrite that row through uq_users_username.
UPSERT_USERS = (INSERT_USER + " ON DUPLICATE KEY UPDATE "
                + ", ".join(f"{c} = VALUES({c})" for c in COLUMNS if c != "id"))

SELECT_USER_IDS_BY_USERNAMES = "SELECT username, id FROM users WHERE username IN ({names})"
SELECT_USERS_BY_IDS = f"SELECT {_SELECT_LIST} FROM users WHERE id IN ({{ids}})"
DELETE_USERS_BY_IDS = "DELETE FROM users WHERE id IN ({ids})"

# Every id in primary-key order, one page after another (keyset pagination).
SELECT_USER_IDS_AFTER = "SELECT id FROM users WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"


def to_row(user: User) -> dict[str, Any]:
    """Column values for a record (naive UTC times, JSON objects as compact text)."""
    row: dict[str, Any] = {c: getattr(user, c) for c in COLUMNS}
    for name in _TIMES:
        if row[name] is not None:
            row[name] = row[name].astimezone(timezone.utc).replace(tzinfo=None)
    row["is_active"] = int(user.is_active)
    row["total_usage"] = js_json(user.total_usage)
    row["extra"] = js_json(user.extra)
    return row


def from_row(row: dict[str, Any]) -> User:
    """A record from a row of _SELECT_LIST; DataError names the row of a bad JSON value."""
    values = {c: row[c] for c in COLUMNS}
    for name in _TIMES:
        if values[name] is not None:
            values[name] = values[name].replace(tzinfo=timezone.utc)
    values["is_active"] = bool(row["is_active"])
    for name in ("total_usage", "extra"):
        try:
            values[name] = json.loads(row[name] or "{}")
        except ValueError:
            raise DataError(f"users row {row['id']}: column {name} is not valid JSON") from None
    return User(**values)


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def upsert_users(cur: Any, users: Sequence[User]) -> None:
    """Write whole records, created or replaced, inside the caller's transaction.

    AlreadyExists (naming ids only) when two records, or a record and a stored row of another id,
    share a username: uq_users_username allows one, as upstream's username:{name} names one id.
    """
    if not users:
        return
    claimants: dict[str, set[str]] = {}
    for user in users:
        claimants.setdefault(user.username, set()).add(user.id)
    for ids in claimants.values():
        if len(ids) > 1:
            raise AlreadyExists(f"users {' and '.join(sorted(ids))} have the same username")
    names = list(claimants)
    cur.execute(SELECT_USER_IDS_BY_USERNAMES.format(names=_placeholders(len(names))), names)
    for row in cur.fetchall():
        if row["id"] not in claimants[row["username"]]:
            owner = row["id"]
            raise AlreadyExists(f"user {next(iter(claimants[row['username']]))}: its username belongs to user {owner}")
    bulk.executemany(cur, UPSERT_USERS, [to_row(u) for u in users])


def delete_users(cur: Any, user_ids: Sequence[str]) -> None:
    """Remove these users' rows whatever their state (a migration mirrors a purged Redis user)."""
    if user_ids:
        cur.execute(DELETE_USERS_BY_IDS.format(ids=_placeholders(len(user_ids))), list(user_ids))


def users_by_ids(pool: MySQLPool, user_ids: Sequence[str]) -> list[User]:
    """The stored records of these ids (absent ids are left out)."""
    if not user_ids:
        return []
    rows = pool.fetchall(SELECT_USERS_BY_IDS.format(ids=_placeholders(len(user_ids))), list(user_ids))
    return [from_row(r) for r in rows]


class MySQLUsers:
    """store.users on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    def create(self, username: str, *, user_id: str | None = None, **fields: Any) -> User:
        """Create a user; AlreadyExists when the username (or a given id) is taken."""
        user = rules.new_user(username, fields, now=utcnow(), user_id=user_id)
        try:
            with self._pool.cursor() as cur:
                cur.execute(INSERT_USER, to_row(user))
        except AlreadyExists:
            raise AlreadyExists(f"username {username!r} or user id {user.id} is taken") from None
        return user

    def get(self, user_id: str) -> User | None:
        row = self._pool.fetchone(SELECT_USER_BY_ID, {"id": user_id})
        return from_row(row) if row else None

    def get_by_username(self, username: str) -> User | None:
        row = self._pool.fetchone(SELECT_USER_BY_USERNAME, {"username": username})
        return from_row(row) if row else None

    def _change(self, user_id: str, change: Any, *, end_sessions: bool = False) -> User:
        """Read the row FOR UPDATE, apply `change`, write it back; one transaction."""
        def work(cur: Any) -> User:
            cur.execute(SELECT_USER_BY_ID_FOR_UPDATE, {"id": user_id})
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"user {user_id} does not exist")
            old = from_row(row)
            new: User = change(old)
            if new != old:
                cur.execute(UPDATE_USER, to_row(new))
            if end_sessions:
                cur.execute(DELETE_USER_SESSIONS_BY_USER, {"user_id": user_id})
            return new

        return self._pool.run_transaction(work)

    def update(self, user_id: str, **fields: Any) -> User:
        """Change fields; NotFound for an unknown id, InvalidInput for an unknown field or username."""
        if "username" in fields:
            raise InvalidInput("username cannot be changed (upstream keys users by it)")
        rules.check_fields(fields)
        return self._change(user_id, lambda old: rules.apply_update(old, fields, now=utcnow()))

    def delete(self, user_id: str) -> User:
        """Upstream's soft delete (inactive, deletedAt) plus ending every session of the user."""
        return self._change(user_id, lambda old: old if old.deleted_at else rules.soft_deleted(old, now=utcnow()),
                            end_sessions=True)

    def purge(self, user_id: str) -> None:
        """Permanent delete of a soft-deleted user and its sessions."""
        def work(cur: Any) -> None:
            cur.execute(SELECT_USER_BY_ID_FOR_UPDATE, {"id": user_id})
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"user {user_id} does not exist")
            if row["deleted_at"] is None:
                raise InvalidInput(f"user {user_id} must be deleted before it is purged")
            cur.execute(DELETE_USER_SESSIONS_BY_USER, {"user_id": user_id})
            cur.execute(DELETE_USER, {"id": user_id})

        self._pool.run_transaction(work)

    def list(self, *, page: int = 1, page_size: int = 50, role: str | None = None,
             is_active: bool | None = None) -> Page[User]:
        """Newest first (created_at, then id); one query returns the page and the total."""
        if page < 1 or page_size < 1:
            raise InvalidInput("page and page_size must be at least 1")
        where = []
        params: dict[str, Any] = {"limit": page_size, "offset": (page - 1) * page_size}
        if role is not None:
            where.append("role = %(role)s")
            params["role"] = role
        if is_active is not None:
            where.append("is_active = %(is_active)s")
            params["is_active"] = int(is_active)
        # Every fragment is a constant of this module; values are bound parameters.
        clause = "WHERE " + " AND ".join(where) if where else ""
        sql = (f"SELECT {_SELECT_LIST}, COUNT(*) OVER () AS total_rows FROM users {clause} "
               "ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s")
        rows = self._pool.fetchall(sql, params)
        if rows:
            total = int(rows[0]["total_rows"])
        else:
            count = self._pool.fetchone(f"SELECT COUNT(*) AS n FROM users {clause}", params)
            total = int(count["n"]) if count else 0
        return Page(items=[from_row(r) for r in rows], total=total, page=page, page_size=page_size)


"""Account groups on MySQL: `account_groups` rows and `account_group_members` (group, account) pairs.

Upstream's reverse index (account_groups_reverse:{platform}:{accountId}) is the
ix_account_group_members_account index; the foreign key to account_groups makes a member insert
for a group deleted meanwhile fail with Conflict instead of leaving an orphan.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timezone
from typing import Any

from .. import account_rules as rules
from ..errors import Conflict, DataError, InvalidInput, NotFound
from ..jsnum import js_json
from ..records import AccountGroup
from ..timefmt import utcnow
from .pool import MySQLPool

COLUMNS = ("id", "name", "platform", "description", "created_at", "updated_at", "extra")
_SELECT_LIST = ", ".join(COLUMNS)

SELECT_ACCOUNT_GROUP = f"SELECT {_SELECT_LIST} FROM account_groups WHERE id = %(id)s"

SELECT_ACCOUNT_GROUP_FOR_UPDATE = SELECT_ACCOUNT_GROUP + " FOR UPDATE"

INSERT_ACCOUNT_GROUP = (f"INSERT INTO account_groups ({_SELECT_LIST}) VALUES ("
                        + ", ".join(f"%({c})s" for c in COLUMNS) + ")")

UPDATE_ACCOUNT_GROUP = """
    UPDATE account_groups SET name = %(name)s, description = %(description)s, updated_at = %(updated_at)s,
        extra = %(extra)s
    WHERE id = %(id)s
"""

DELETE_ACCOUNT_GROUP = "DELETE FROM account_groups WHERE id = %(id)s"

SELECT_ACCOUNT_GROUP_HAS_MEMBERS = "SELECT 1 AS one FROM account_group_members WHERE group_id = %(id)s LIMIT 1"

SELECT_ACCOUNT_GROUPS = f"SELECT {_SELECT_LIST} FROM account_groups ORDER BY created_at DESC, id DESC"

SELECT_ACCOUNT_GROUPS_BY_PLATFORM = (f"SELECT {_SELECT_LIST} FROM account_groups WHERE platform = %(platform)s "
                                     "ORDER BY created_at DESC, id DESC")

# Idempotent add; not INSERT IGNORE, which would also swallow the foreign-key failure.
INSERT_ACCOUNT_GROUP_MEMBER = """
    INSERT INTO account_group_members (group_id, account_id) VALUES (%(group_id)s, %(account_id)s)
    ON DUPLICATE KEY UPDATE account_id = account_id
"""

DELETE_ACCOUNT_GROUP_MEMBER = ("DELETE FROM account_group_members "
                               "WHERE group_id = %(group_id)s AND account_id = %(account_id)s")

SELECT_ACCOUNT_GROUP_MEMBERS = ("SELECT account_id FROM account_group_members WHERE group_id = %(group_id)s "
                                "ORDER BY account_id")

# Reverse lookup (upstream's account_groups_reverse:{platform}:{accountId}): ix_account_group_members_account.
SELECT_ACCOUNT_GROUPS_OF_ACCOUNT = f"""
    SELECT {', '.join('g.' + c for c in COLUMNS)} FROM account_group_members m
    JOIN account_groups g ON g.id = m.group_id
    WHERE m.account_id = %(account_id)s AND g.platform = %(platform)s
    ORDER BY g.created_at DESC, g.id DESC
"""


def _naive(value: Any) -> Any:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def to_row(group: AccountGroup) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "platform": group.platform, "description": group.description,
            "created_at": _naive(group.created_at), "updated_at": _naive(group.updated_at),
            "extra": js_json(group.extra)}


def from_row(row: dict[str, Any]) -> AccountGroup:
    """A group from a row; DataError names the row of a bad `extra` value."""
    try:
        extra = json.loads(row["extra"] or "{}")
    except ValueError:
        raise DataError(f"account_groups row {row['id']}: column extra is not valid JSON") from None
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise DataError(f"account_groups row {row['id']}: column extra is not a JSON object of strings")
    return AccountGroup(
        id=row["id"], name=row["name"], platform=row["platform"], description=row["description"],
        created_at=None if row["created_at"] is None else row["created_at"].replace(tzinfo=timezone.utc),
        updated_at=None if row["updated_at"] is None else row["updated_at"].replace(tzinfo=timezone.utc),
        extra=extra)


class MySQLAccountGroups:
    """store.account_groups on MySQL."""

    def __init__(self, pool: MySQLPool) -> None:
        self._pool = pool

    def create(self, platform: str, name: str, description: str = "", **extra: Any) -> AccountGroup:
        """Create a group of `platform` (upstream's: claude, gemini, openai, droid; see account_rules)."""
        platform = rules.check_group_platform(platform)
        typed, fields = rules.check_group_fields({"name": name, "description": description, **extra})
        now = rules.to_ms_utc(utcnow())
        group = AccountGroup(id=str(uuid.uuid4()), platform=platform, created_at=now, updated_at=now,
                             extra=fields, **typed)
        with self._pool.cursor() as cur:
            cur.execute(INSERT_ACCOUNT_GROUP, to_row(group))
        return group

    def get(self, group_id: str) -> AccountGroup | None:
        """The group, or None."""
        if not rules.valid_id(group_id):
            return None
        row = self._pool.fetchone(SELECT_ACCOUNT_GROUP, {"id": group_id})
        return from_row(row) if row else None

    def _require(self, group_id: str) -> AccountGroup:
        group = self.get(group_id)
        if group is None:
            raise NotFound(f"account group {str(group_id)[:80]!r} does not exist")
        return group

    def update(self, group_id: str, **fields: Any) -> AccountGroup:
        """Rename/describe a group or set upstream's extra fields; its platform cannot change."""
        platform = fields.pop("platform", None)
        typed, extra = rules.check_group_fields(fields)
        if not rules.valid_id(group_id):
            raise NotFound(f"account group {str(group_id)[:80]!r} does not exist")

        def work(cur: Any) -> AccountGroup:
            cur.execute(SELECT_ACCOUNT_GROUP_FOR_UPDATE, {"id": group_id})
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"account group {group_id} does not exist")
            old = from_row(row)
            if platform is not None and platform != old.platform:
                raise InvalidInput("the platform of a group cannot be changed")
            new = replace(old, updated_at=rules.to_ms_utc(utcnow()), extra={**old.extra, **extra}, **typed)
            cur.execute(UPDATE_ACCOUNT_GROUP, to_row(new))
            return new

        return self._pool.run_transaction(work)

    def delete(self, group_id: str) -> None:
        """Delete an empty group; Conflict while it has members (upstream refuses too)."""
        if not rules.valid_id(group_id):
            raise NotFound(f"account group {str(group_id)[:80]!r} does not exist")

        def work(cur: Any) -> None:
            cur.execute(SELECT_ACCOUNT_GROUP_FOR_UPDATE, {"id": group_id})
            if cur.fetchone() is None:
                raise NotFound(f"account group {group_id} does not exist")
            cur.execute(SELECT_ACCOUNT_GROUP_HAS_MEMBERS, {"id": group_id})
            if cur.fetchone() is not None:
                raise Conflict(f"account group {group_id} still has members")
            cur.execute(DELETE_ACCOUNT_GROUP, {"id": group_id})

        self._pool.run_transaction(work)

    def list(self, platform: str | None = None) -> list[AccountGroup]:
        """Every group (of one platform if given), newest first."""
        if platform is None:
            rows = self._pool.fetchall(SELECT_ACCOUNT_GROUPS)
        else:
            rows = self._pool.fetchall(SELECT_ACCOUNT_GROUPS_BY_PLATFORM, {"platform": platform})
        return [from_row(r) for r in rows]

    def add_member(self, group_id: str, account_id: str, *, platform: str | None = None) -> None:
        """Put an account in a group (idempotent); with `platform`, refuse an account of another
        platform as upstream does (claude-console accounts join claude groups)."""
        group = self._require(group_id)
        if platform is not None and rules.group_platform(platform) != group.platform:
            raise InvalidInput(f"a {platform} account cannot join a {group.platform} group")
        if not rules.valid_id(account_id):
            raise InvalidInput("account_id must be 1-64 characters of letters, digits, '_', '.', '-'")
        with self._pool.cursor() as cur:
            cur.execute(INSERT_ACCOUNT_GROUP_MEMBER, {"group_id": group_id, "account_id": account_id})

    def remove_member(self, group_id: str, account_id: str) -> None:
        """Take an account out of a group (idempotent); NotFound for a missing group."""
        self._require(group_id)
        if not rules.valid_id(account_id):
            return
        with self._pool.cursor() as cur:
            cur.execute(DELETE_ACCOUNT_GROUP_MEMBER, {"group_id": group_id, "account_id": account_id})

    def members(self, group_id: str) -> list[str]:
        """The group's account ids, sorted; [] for a missing group."""
        if not rules.valid_id(group_id):
            return []
        return [r["account_id"] for r in self._pool.fetchall(SELECT_ACCOUNT_GROUP_MEMBERS, {"group_id": group_id})]

    def groups_of(self, platform: str, account_id: str) -> list[AccountGroup]:
        """The groups an account of `platform` belongs to, newest first (reverse index)."""
        gp = rules.group_platform(platform)
        if not rules.valid_id(account_id):
            return []
        rows = self._pool.fetchall(SELECT_ACCOUNT_GROUPS_OF_ACCOUNT, {"account_id": account_id, "platform": gp})
        return [from_row(r) for r in rows]

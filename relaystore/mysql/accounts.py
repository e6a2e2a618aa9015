"""Accounts on MySQL: one `accounts` row per (platform, id); typed columns + upstream's stored form.

The `data` column is the JSON object of every non-typed upstream field exactly as Redis holds it,
secrets encrypted in upstream's format (see account_rules); rows are decrypted on the way out.
list_schedulable() is one indexed query (ix_accounts_schedule), with or without a group.
"""
from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from .. import account_rules as rules
from ..config import Settings
from ..errors import DataError, InvalidInput, NotFound
from ..jsnum import js_json
from ..records import Account
from ..timefmt import utcnow
from .pool import MySQLPool

COLUMNS = ("platform", "id", "name", "description", "is_active", "schedulable", "status", "priority",
           "account_type", "error_message", "created_at", "last_used_at", "data")
_SELECT_LIST = ", ".join(COLUMNS)
_A_SELECT_LIST = ", ".join("a." + c for c in COLUMNS)
# Upstream's isAccountHealthy() refusals, compared lower-cased (status is utf8mb4_bin).
_HEALTHY = "LOWER(a.status) NOT IN (" + ", ".join(f"'{s}'" for s in rules.UNSCHEDULABLE_STATUSES) + ")"

SELECT_ACCOUNT = f"SELECT {_SELECT_LIST} FROM accounts WHERE platform = %(platform)s AND id = %(id)s"

SELECT_ACCOUNT_FOR_UPDATE = SELECT_ACCOUNT + " FOR UPDATE"

INSERT_ACCOUNT = (f"INSERT INTO accounts ({_SELECT_LIST}) VALUES ("
                  + ", ".join(f"%({c})s" for c in COLUMNS) + ")")

UPDATE_ACCOUNT = ("UPDATE accounts SET "
                  + ", ".join(f"{c} = %({c})s" for c in COLUMNS if c not in ("platform", "id"))
                  + " WHERE platform = %(platform)s AND id = %(id)s")

DELETE_ACCOUNT = "DELETE FROM accounts WHERE platform = %(platform)s AND id = %(id)s"

# An account leaves the groups of its group platform with it (upstream clears every group).
DELETE_ACCOUNT_MEMBERSHIPS = """
    DELETE m FROM account_group_members m
    JOIN account_groups g ON g.id = m.group_id
    WHERE m.account_id = %(id)s AND g.platform = %(group_platform)s
"""

# list(): the platform's rows oldest first (ix_accounts_platform_created).
SELECT_ACCOUNTS_BY_PLATFORM = (f"SELECT {_SELECT_LIST} FROM accounts WHERE platform = %(platform)s "
                               "ORDER BY created_at, id")

# Scheduler read: candidates in the scheduler's order straight off ix_accounts_schedule.
SELECT_SCHEDULABLE_ACCOUNTS = f"""
    SELECT {_A_SELECT_LIST} FROM accounts a
    WHERE a.platform = %(platform)s AND a.is_active = 1 AND a.schedulable = 1 AND {_HEALTHY}
    ORDER BY a.priority, a.last_used_at, a.created_at, a.id
"""

# Scheduler read within a group: the group's member rows (primary key), each account by primary key.
SELECT_SCHEDULABLE_ACCOUNTS_IN_GROUP = f"""
    SELECT {_A_SELECT_LIST} FROM account_group_members m
    JOIN accounts a ON a.platform = %(platform)s AND a.id = m.account_id
    WHERE m.group_id = %(group_id)s AND a.is_active = 1 AND a.schedulable = 1 AND {_HEALTHY}
    ORDER BY a.priority, a.last_used_at, a.created_at, a.id
"""


def _naive(value: Any) -> Any:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(value: Any) -> Any:
    return None if value is None else value.replace(tzinfo=timezone.utc)


def to_row(platform: str, account_id: str, typed: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Column values: typed attributes plus the stored (encrypted) non-typed fields as JSON."""
    row = {attr: typed[attr] for attr, _ in rules.TYPED if attr != "id"}
    row.update(platform=platform, id=account_id, created_at=_naive(typed["created_at"]),
               last_used_at=_naive(typed["last_used_at"]), data=js_json(stored))
    return row


class MySQLAccounts:
    """store.accounts on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._ciphers = rules.make_ciphers(settings)

    @staticmethod
    def _stored(row: dict[str, Any], where: str) -> dict[str, Any]:
        try:
            stored = json.loads(row["data"])
        except ValueError:
            raise DataError(f"{where}: column data is not valid JSON") from None
        if not isinstance(stored, dict):
            raise DataError(f"{where}: column data is not a JSON object")
        return stored

    @staticmethod
    def _typed(row: dict[str, Any]) -> dict[str, Any]:
        return {"name": row["name"], "description": row["description"], "is_active": bool(row["is_active"]),
                "schedulable": bool(row["schedulable"]), "status": row["status"], "priority": int(row["priority"]),
                "account_type": row["account_type"], "error_message": row["error_message"],
                "created_at": _aware(row["created_at"]), "last_used_at": _aware(row["last_used_at"])}

    def _from_row(self, row: dict[str, Any]) -> Account:
        """A record from a row; secrets decrypted, DataError naming the row and field if one cannot be."""
        platform = row["platform"]
        where = f"accounts row {platform}/{row['id']}"
        spec = rules.PLATFORMS.get(platform)
        if spec is None:
            raise DataError(f"{where}: unknown platform")
        data, secrets = rules.split_fields(spec, self._ciphers[platform], self._stored(row, where), where)
        return Account(id=row["id"], platform=platform, data=data, secrets=secrets, **self._typed(row))

    def create(self, platform: str, **fields: Any) -> Account:
        """Create an account; secrets are stored encrypted with upstream's scheme."""
        spec = rules.spec_for(platform)
        account, plain = rules.new_account(spec, fields, utcnow())
        stored = rules.encode_fields(spec, self._ciphers[platform], plain)
        with self._pool.cursor() as cur:
            cur.execute(INSERT_ACCOUNT, to_row(platform, account.id, rules.typed_of(account), stored))
        return account

    def get(self, platform: str, account_id: str) -> Account | None:
        """The account, or None (also for an id relaystore would never store)."""
        rules.spec_for(platform)
        if not rules.valid_id(account_id):
            return None
        row = self._pool.fetchone(SELECT_ACCOUNT, {"platform": platform, "id": account_id})
        return self._from_row(row) if row else None

    def update(self, platform: str, account_id: str, **fields: Any) -> Account:
        """Change fields (None removes an upstream field); NotFound for a missing account."""
        spec = rules.spec_for(platform)
        typed, untyped = rules.check_values(spec, fields, creating=False)
        if not rules.valid_id(account_id):
            raise NotFound(f"{platform} account {account_id[:80]!r} does not exist")
        changes = rules.encode_fields(spec, self._ciphers[platform],
                                      {k: v for k, v in untyped.items() if v is not None})
        removals = [k for k, v in untyped.items() if v is None]
        key = {"platform": platform, "id": account_id}

        def work(cur: Any) -> dict[str, Any]:
            cur.execute(SELECT_ACCOUNT_FOR_UPDATE, key)
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"{platform} account {account_id} does not exist")
            where = f"accounts row {platform}/{account_id}"
            new_typed = {**self._typed(row), **typed}
            stored = self._stored(row, where)
            stored.update(changes)
            for name in removals:
                stored.pop(name, None)
            new_row = to_row(platform, account_id, new_typed, stored)
            cur.execute(UPDATE_ACCOUNT, new_row)
            return new_row

        return self._from_row(self._pool.run_transaction(work))

    def delete(self, platform: str, account_id: str) -> None:
        """Remove the account and its group memberships; NotFound for a missing account."""
        spec = rules.spec_for(platform)
        if not rules.valid_id(account_id):
            raise NotFound(f"{platform} account {account_id[:80]!r} does not exist")

        def work(cur: Any) -> None:
            if not cur.execute(DELETE_ACCOUNT, {"platform": platform, "id": account_id}):
                raise NotFound(f"{platform} account {account_id} does not exist")
            cur.execute(DELETE_ACCOUNT_MEMBERSHIPS, {"id": account_id, "group_platform": spec.group_platform})

        self._pool.run_transaction(work)

    def list(self, platform: str) -> list[Account]:
        """Every account of the platform, oldest first (created_at, then id)."""
        rules.spec_for(platform)
        return [self._from_row(r) for r in self._pool.fetchall(SELECT_ACCOUNTS_BY_PLATFORM, {"platform": platform})]

    def list_schedulable(self, platform: str, *, group_id: str | None = None) -> list[Account]:
        """Scheduler candidates, best first: active, schedulable, healthy status (upstream's filter),
        ordered by priority, least recently used, oldest, id; `group_id` limits them to a group.

        One query either way.
        """
        rules.spec_for(platform)
        if group_id is None:
            rows = self._pool.fetchall(SELECT_SCHEDULABLE_ACCOUNTS, {"platform": platform})
        elif not isinstance(group_id, str):
            raise InvalidInput("group_id must be a string")
        elif not rules.valid_id(group_id):
            return []
        else:
            rows = self._pool.fetchall(SELECT_SCHEDULABLE_ACCOUNTS_IN_GROUP,
                                       {"platform": platform, "group_id": group_id})
        return [self._from_row(r) for r in rows]


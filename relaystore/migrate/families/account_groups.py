"""Account groups: `account_group:{id}` hashes <-> account_groups rows, and
`account_group_members:{id}` SETs <-> account_group_members rows (two families, groups copied first:
a member row needs its group row).

Derived, not copied, rebuilt by the rollback with the Redis DAO's queue_group()/queue_member():
the `account_groups` SET of group ids (one entry per group hash) and the reverse index
`account_groups_reverse:{group platform}:{account id}` (one entry per membership, under the group's
platform). Its `account_groups_reverse:migrated` marker is copied by system_settings.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from typing import Any

from ... import account_rules as rules
from ...errors import DataError
from ...mysql import account_groups as mysql_groups
from ...mysql.bulk import executemany
from ...mysql.pool import MySQLPool
from ...records import AccountGroup
from ...redis import account_groups as redis_groups
from ...redis.keys import Keys
from ..family import Family, KeySource
from .rows import key_pages
from .rows import placeholders as _in

GROUP_PREFIX = "account_group:"
MEMBERS_PREFIX = "account_group_members:"
_GROUP_FIELDS = tuple(f.name for f in dc_fields(AccountGroup))

UPSERT_ACCOUNT_GROUPS = (
    f"INSERT INTO account_groups ({', '.join(mysql_groups.COLUMNS)}) VALUES ("
    + ", ".join(f"%({c})s" for c in mysql_groups.COLUMNS) + ") ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{c} = VALUES({c})" for c in mysql_groups.COLUMNS if c != "id")
)

DELETE_ACCOUNT_GROUPS = "DELETE FROM account_groups WHERE id IN ({ids})"

SELECT_ACCOUNT_GROUPS_BY_IDS = f"SELECT {', '.join(mysql_groups.COLUMNS)} FROM account_groups WHERE id IN ({{ids}})"

SELECT_ACCOUNT_GROUP_IDS_AFTER = "SELECT id FROM account_groups WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"

INSERT_MEMBERS = "INSERT INTO account_group_members (group_id, account_id) VALUES (%(group_id)s, %(account_id)s)"

DELETE_MEMBERS_OF_GROUPS = "DELETE FROM account_group_members WHERE group_id IN ({ids})"

# Members of a batch of groups with each group's platform (the reverse index is keyed by it).
SELECT_MEMBERS_OF_GROUPS = """
    SELECT m.group_id, m.account_id, g.platform FROM account_group_members m
    JOIN account_groups g ON g.id = m.group_id
    WHERE m.group_id IN ({ids})
"""

SELECT_GROUP_IDS_IN = "SELECT id FROM account_groups WHERE id IN ({ids})"

# Groups that have members, in primary-key order (keyset pagination over the primary key's prefix).
SELECT_MEMBER_GROUP_IDS_AFTER = """
    SELECT DISTINCT group_id FROM account_group_members WHERE group_id > %(after)s
    ORDER BY group_id LIMIT %(limit)s
"""


def _id_of(key: str, prefix: str) -> str:
    return key[len(prefix):]


class AccountGroupsFamily(Family):
    name = "account_groups"
    sources = (KeySource(type="hash", match=GROUP_PREFIX + "*", regex=re.compile(re.escape(GROUP_PREFIX) + "[^:]+")),)
    tables = ("account_groups",)

    def estimate(self, client: Any, k: Keys) -> int | None:
        return int(client.scard(k.account_groups)) or None

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> AccountGroup:
        group_id = _id_of(key, GROUP_PREFIX)
        if not rules.valid_id(group_id):
            raise DataError(f"{key}: group id is not 1-64 letters, digits, '_', '.', '-'")
        return rules.decode_group(group_id, value, key)

    def check(self, record: AccountGroup, checker: Any) -> None:
        checker.check("account_groups", mysql_groups.to_row(record), self.key_of(record))

    def key_of(self, record: AccountGroup) -> str:
        return GROUP_PREFIX + record.id

    def write_mysql(self, cur: Any, records: Sequence[AccountGroup]) -> None:
        executemany(cur, UPSERT_ACCOUNT_GROUPS, [mysql_groups.to_row(r) for r in records])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        ids = [_id_of(k, GROUP_PREFIX) for k in keys]
        if ids:
            # Upstream deletes a group with its member SET; the member rows go first (foreign key).
            cur.execute(DELETE_MEMBERS_OF_GROUPS.format(ids=_in(len(ids))), ids)
            cur.execute(DELETE_ACCOUNT_GROUPS.format(ids=_in(len(ids))), ids)

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        return key_pages(pool, SELECT_ACCOUNT_GROUP_IDS_AFTER, "id", GROUP_PREFIX, batch_size)

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, AccountGroup]:
        ids = [_id_of(k, GROUP_PREFIX) for k in keys]
        if not ids:
            return {}
        rows = pool.fetchall(SELECT_ACCOUNT_GROUPS_BY_IDS.format(ids=_in(len(ids))), ids)
        return {GROUP_PREFIX + row["id"]: mysql_groups.from_row(row) for row in rows}

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[AccountGroup]) -> None:
        for record in records:
            redis_groups.queue_group(pipe, k, record)

    def compare(self, redis_record: AccountGroup, mysql_record: AccountGroup) -> list[str]:
        return [n for n in _GROUP_FIELDS if getattr(redis_record, n) != getattr(mysql_record, n)]


@dataclass(frozen=True)
class GroupMembers:
    """The account ids of one group; `platform` (the group's) is known on the MySQL side only."""

    group_id: str
    account_ids: frozenset[str]
    platform: str | None = None


class AccountGroupMembersFamily(Family):
    name = "account_group_members"
    sources = (KeySource(type="set", match=MEMBERS_PREFIX + "*",
                         regex=re.compile(re.escape(MEMBERS_PREFIX) + "[^:]+")),)
    tables = ("account_group_members",)

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> GroupMembers:
        group_id = _id_of(key, MEMBERS_PREFIX)
        if not rules.valid_id(group_id):
            raise DataError(f"{key}: group id is not 1-64 letters, digits, '_', '.', '-'")
        if not all(rules.valid_id(m) for m in value):
            raise DataError(f"{key}: a member is not an account id (1-64 letters, digits, '_', '.', '-')")
        return GroupMembers(group_id, frozenset(value))

    def key_of(self, record: GroupMembers) -> str:
        return MEMBERS_PREFIX + record.group_id

    def write_mysql(self, cur: Any, records: Sequence[GroupMembers]) -> None:
        """Replace each group's member rows with the SET (an unchanged SET leaves the same rows)."""
        ids = [r.group_id for r in records]
        cur.execute(SELECT_GROUP_IDS_IN.format(ids=_in(len(ids))), ids)
        known = {row["id"] for row in cur.fetchall()}
        missing = [r for r in records if r.group_id not in known]
        if missing:
            # The member SET of a group whose account_group hash is gone (or was refused).
            raise DataError(f"{self.key_of(missing[0])}: no account_group:{missing[0].group_id} record for these members")
        cur.execute(DELETE_MEMBERS_OF_GROUPS.format(ids=_in(len(ids))), ids)
        executemany(cur, INSERT_MEMBERS, [{"group_id": r.group_id, "account_id": a}
                                          for r in records for a in sorted(r.account_ids)])

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        ids = [_id_of(k, MEMBERS_PREFIX) for k in keys]
        if ids:
            cur.execute(DELETE_MEMBERS_OF_GROUPS.format(ids=_in(len(ids))), ids)

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        return key_pages(pool, SELECT_MEMBER_GROUP_IDS_AFTER, "group_id", MEMBERS_PREFIX, batch_size)

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, GroupMembers]:
        ids = [_id_of(k, MEMBERS_PREFIX) for k in keys]
        if not ids:
            return {}
        members: dict[str, set[str]] = {}
        platforms: dict[str, str] = {}
        for row in pool.fetchall(SELECT_MEMBERS_OF_GROUPS.format(ids=_in(len(ids))), ids):
            members.setdefault(row["group_id"], set()).add(row["account_id"])
            platforms[row["group_id"]] = row["platform"]
        return {MEMBERS_PREFIX + g: GroupMembers(g, frozenset(m), platforms[g]) for g, m in members.items()}

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[GroupMembers]) -> None:
        for record in records:
            assert record.platform is not None, "members read from MySQL carry their group's platform"
            for account_id in sorted(record.account_ids):
                redis_groups.queue_member(pipe, k, record.group_id, record.platform, account_id)

    def compare(self, redis_record: GroupMembers, mysql_record: GroupMembers) -> list[str]:
        return [] if redis_record.account_ids == mysql_record.account_ids else ["members"]

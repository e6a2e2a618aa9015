"""Account groups on Redis in upstream's layout (spec §8).

`account_group:{id}` HASH (id, name, platform, description, createdAt, updatedAt, plus upstream's
optional proxy/proxyPriority kept verbatim), `account_groups` SET of group ids,
`account_group_members:{id}` SET of account ids, and the reverse index
`account_groups_reverse:{group platform}:{account id}` SET of group ids, maintained in the same
MULTI as the member SET. A keyspace written before upstream had the reverse index (no
`account_groups_reverse:migrated` = "true") gets it rebuilt once, as upstream does at startup.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import redis

from .. import account_rules as rules
from ..errors import Conflict, InvalidInput, NotFound
from ..records import AccountGroup
from ..timefmt import utcnow
from .client import redis_errors
from .keys import Keys


def queue_group(pipe: Any, k: Keys, group: AccountGroup) -> None:
    """Queue a group's hash and its account_groups entry; create() and the rollback share it."""
    pipe.hset(k.account_group(group.id), mapping=rules.encode_group(group))
    pipe.sadd(k.account_groups, group.id)


def queue_member(pipe: Any, k: Keys, group_id: str, group_platform: str, account_id: str) -> None:
    """Queue one membership: the group's member SET and the account's reverse index, as upstream keeps both."""
    pipe.sadd(k.account_group_members(group_id), account_id)
    pipe.sadd(k.account_groups_reverse(group_platform, account_id), group_id)


class RedisAccountGroups:
    """store.account_groups on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._k = keys

    def create(self, platform: str, name: str, description: str = "", **extra: Any) -> AccountGroup:
        """Create a group of `platform` (upstream's: claude, gemini, openai, droid; see account_rules)."""
        platform = rules.check_group_platform(platform)
        typed, fields = rules.check_group_fields({"name": name, "description": description, **extra})
        now = rules.to_ms_utc(utcnow())
        group = AccountGroup(id=str(uuid.uuid4()), platform=platform, created_at=now, updated_at=now,
                             extra=fields, **typed)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            queue_group(pipe, self._k, group)
            pipe.execute()
        return group

    def get(self, group_id: str) -> AccountGroup | None:
        """The group, or None."""
        if not rules.valid_id(group_id):
            return None
        key = self._k.account_group(group_id)
        with redis_errors():
            stored = self._r.hgetall(key)
        return rules.decode_group(group_id, stored, key) if stored else None

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
        key = self._k.account_group(group_id)
        result: list[AccountGroup] = []

        def work(pipe: Any) -> None:
            stored = pipe.hgetall(key)
            if not stored:
                raise NotFound(f"account group {group_id} does not exist")
            old = rules.decode_group(group_id, stored, key)
            if platform is not None and platform != old.platform:
                raise InvalidInput("the platform of a group cannot be changed")
            new = replace(old, updated_at=rules.to_ms_utc(utcnow()), extra={**old.extra, **extra}, **typed)
            pipe.multi()
            pipe.hset(key, mapping=rules.encode_group(new))
            result[:] = [new]

        with redis_errors():
            self._r.transaction(work, key)
        return result[0]

    def delete(self, group_id: str) -> None:
        """Delete an empty group; Conflict while it has members (upstream refuses too)."""
        if not rules.valid_id(group_id):
            raise NotFound(f"account group {str(group_id)[:80]!r} does not exist")
        key = self._k.account_group(group_id)
        members = self._k.account_group_members(group_id)

        def work(pipe: Any) -> None:
            if not pipe.exists(key):
                raise NotFound(f"account group {group_id} does not exist")
            if pipe.scard(members):
                raise Conflict(f"account group {group_id} still has members")
            pipe.multi()
            pipe.delete(key, members)
            pipe.srem(self._k.account_groups, group_id)

        with redis_errors():
            self._r.transaction(work, key, members)

    def _groups(self, group_ids: list[str]) -> list[AccountGroup]:
        """The groups of `group_ids` in one pipeline, newest first; vanished ids are skipped."""
        group_ids = [g for g in group_ids if rules.valid_id(g)]
        pipe = self._r.pipeline(transaction=False)
        for group_id in group_ids:
            pipe.hgetall(self._k.account_group(group_id))
        rows = pipe.execute()
        groups = [rules.decode_group(g, stored, self._k.account_group(g))
                  for g, stored in zip(group_ids, rows) if stored]
        return sorted(groups, key=rules.group_order, reverse=True)

    def list(self, platform: str | None = None) -> list[AccountGroup]:
        """Every group (of one platform if given), newest first."""
        with redis_errors():
            groups = self._groups(list(self._r.smembers(self._k.account_groups)))
        return [g for g in groups if platform is None or g.platform == platform]

    def add_member(self, group_id: str, account_id: str, *, platform: str | None = None) -> None:
        """Put an account in a group (idempotent); with `platform`, refuse an account of another
        platform as upstream does (claude-console accounts join claude groups)."""
        group = self._require(group_id)
        if platform is not None and rules.group_platform(platform) != group.platform:
            raise InvalidInput(f"a {platform} account cannot join a {group.platform} group")
        if not rules.valid_id(account_id):
            raise InvalidInput("account_id must be 1-64 characters of letters, digits, '_', '.', '-'")
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            queue_member(pipe, self._k, group_id, group.platform, account_id)
            pipe.execute()

    def remove_member(self, group_id: str, account_id: str) -> None:
        """Take an account out of a group (idempotent); NotFound for a missing group."""
        group = self._require(group_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.srem(self._k.account_group_members(group_id), account_id)
            pipe.srem(self._k.account_groups_reverse(group.platform, account_id), group_id)
            pipe.execute()

    def members(self, group_id: str) -> list[str]:
        """The group's account ids, sorted; [] for a missing group."""
        if not rules.valid_id(group_id):
            return []
        with redis_errors():
            return sorted(self._r.smembers(self._k.account_group_members(group_id)))

    def groups_of(self, platform: str, account_id: str) -> list[AccountGroup]:
        """The groups an account of `platform` belongs to, newest first (reverse index)."""
        gp = rules.group_platform(platform)
        if not rules.valid_id(account_id):
            return []
        k = self._k
        with redis_errors():
            group_ids = list(self._r.smembers(k.account_groups_reverse(gp, account_id)))
            if not group_ids and self._r.get(k.account_groups_reverse_migrated) != "true":
                self.backfill_reverse_index()
                group_ids = list(self._r.smembers(k.account_groups_reverse(gp, account_id)))
            groups = self._groups(group_ids)
        return [g for g in groups if g.platform == gp]

    def backfill_reverse_index(self) -> int:
        """Upstream's ensureReverseIndexes(): rebuild account_groups_reverse:* from the member SETs,
        then mark it done (`account_groups_reverse:migrated` = "true"); returns the entries written.

        Safe to repeat (SADD); groups_of() runs it once on a keyspace that lacks the marker.
        """
        k = self._k
        with redis_errors():
            every = [g for g in self._r.smembers(k.account_groups) if rules.valid_id(g)]
            pipe = self._r.pipeline(transaction=False)
            for group_id in every:
                pipe.hget(k.account_group(group_id), "platform")
                pipe.smembers(k.account_group_members(group_id))
            found = pipe.execute()
            pipe = self._r.pipeline(transaction=False)
            written = 0
            for group_id, platform, members in zip(every, found[::2], found[1::2]):
                for account_id in members if platform else ():
                    pipe.sadd(k.account_groups_reverse(platform, account_id), group_id)
                    written += 1
            pipe.set(k.account_groups_reverse_migrated, "true")
            pipe.execute()
        return written

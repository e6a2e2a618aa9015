"""Accounts on Redis in upstream's layout (spec §7): one hash per account (Bedrock: a JSON string).

Writes keep upstream's side structures in the same MULTI: the platform index SET (SADD on create
plus DEL of its `:empty` marker, SREM on delete) and the shared-pool SET, whose members are the
accounts with accountType "shared" (claude, bedrock and droid have none known upstream).
update() HSETs only the fields it changes, so untouched fields (and the ciphertexts of untouched
secrets) stay byte for byte as they were; Bedrock's JSON is rewritten whole, as upstream does.
delete() also drops the account from every group's member SET and its reverse group index.

Reads: list() and list_schedulable() take the ids from the index SET and then fetch every record
in one pipeline: one index read plus one pipelined round trip, whatever the number of accounts.
When the index is empty, upstream's readers fall back to a SCAN of the platform's key prefix;
relaystore does too, back-fills the index with what it finds, and when it finds nothing sets the
`{index}:empty` marker (which the next create() deletes) so an empty platform costs no SCAN per
scheduler call. list_schedulable() decrypts only the accounts it returns.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from .. import account_rules as rules
from ..config import Settings
from ..errors import AlreadyExists, DataError, InvalidInput, NotFound
from ..jsnum import js_json, json_object
from ..records import Account
from ..timefmt import utcnow
from .client import redis_errors
from .keys import Keys

SCAN_COUNT = 1000


@contextmanager
def _wrong_type(key: str) -> Iterator[None]:
    """A key of another Redis type where an account should be is bad data, not a server failure."""
    try:
        yield
    except redis.ResponseError as exc:
        if str(exc).startswith("WRONGTYPE"):
            raise DataError(f"{key}: wrong Redis type for an account record") from None
        raise


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def queue_layout(pipe: Any, k: Keys, spec: rules.PlatformSpec, account_id: str, stored: dict[str, Any],
                 account_type: str) -> None:
    """Queue a new account's record with its index and shared-pool entries; create() and the rollback share it."""
    key = k.account(spec.name, account_id)
    if spec.json_record:
        pipe.set(key, js_json(stored))
    elif stored:
        pipe.hset(key, mapping=stored)
    pipe.sadd(k.account_index(spec.name), account_id)
    pipe.delete(k.account_index_empty(spec.name))
    shared = k.account_shared_pool(spec.name)
    if shared is not None:
        (pipe.sadd if account_type == "shared" else pipe.srem)(shared, account_id)



def stored_from_json(raw: str, key: str) -> dict[str, Any]:
    """The stored form of a JSON-string platform's account (DataError names the key)."""
    return json_object(raw, f"{key}: value")


class RedisAccounts:
    """store.accounts on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._ciphers = rules.make_ciphers(settings)

    # --- stored form <-> Redis ---

    def _parse(self, spec: rules.PlatformSpec, account_id: str, raw: Any, key: str, *,
               candidates_only: bool = False) -> Account | None:
        """A record from HGETALL (dict) or GET (JSON text) output; None when the key is missing
        (or, with candidates_only, when the scheduler would skip the account)."""
        if spec.json_record:
            if raw is None:
                return None
            stored = stored_from_json(raw, key)
        else:
            if not raw:
                return None
            stored = raw
        return rules.account_from_stored(spec, self._ciphers[spec.name], account_id, stored, key,
                                         candidates_only=candidates_only)

    def _read_stored(self, pipe: Any, spec: rules.PlatformSpec, key: str) -> dict[str, Any] | None:
        """The stored form at `key` through a (watching) pipeline in immediate mode."""
        with _wrong_type(key):
            raw = pipe.get(key) if spec.json_record else pipe.hgetall(key)
        if not spec.json_record:
            return raw or None
        if raw is None:
            return None
        return stored_from_json(raw, key)

    @staticmethod
    def _write_stored(pipe: Any, spec: rules.PlatformSpec, key: str, stored: dict[str, Any]) -> None:
        if spec.json_record:
            pipe.set(key, js_json(stored))
        elif stored:
            pipe.hset(key, mapping=stored)

    def _shared(self, pipe: Any, platform: str, account_id: str, account_type: str) -> None:
        """Shared-pool membership follows accountType == "shared"."""
        shared = self._k.account_shared_pool(platform)
        if shared is not None:
            (pipe.sadd if account_type == "shared" else pipe.srem)(shared, account_id)

    # --- the contract ---

    def create(self, platform: str, **fields: Any) -> Account:
        """Create an account; secrets are encrypted with upstream's scheme before they are written."""
        spec = rules.spec_for(platform)
        account, plain = rules.new_account(spec, fields, utcnow())
        stored = rules.encode_typed(spec, rules.typed_of(account))
        stored.update(rules.encode_fields(spec, self._ciphers[platform], plain))
        key = self._k.account(platform, account.id)

        def work(pipe: Any) -> None:
            if pipe.exists(key):
                raise AlreadyExists(f"{platform} account {account.id} already exists")
            pipe.multi()
            queue_layout(pipe, self._k, spec, account.id, stored, account.account_type)

        with redis_errors():
            self._r.transaction(work, key)
        return account

    def get(self, platform: str, account_id: str) -> Account | None:
        """The account, or None (also for an id relaystore would never store)."""
        spec = rules.spec_for(platform)
        if not rules.valid_id(account_id):
            return None
        key = self._k.account(platform, account_id)
        with redis_errors(), _wrong_type(key):
            raw = self._r.get(key) if spec.json_record else self._r.hgetall(key)
        return self._parse(spec, account_id, raw, key)

    def update(self, platform: str, account_id: str, **fields: Any) -> Account:
        """Change fields (None removes an upstream field); NotFound for a missing account."""
        spec = rules.spec_for(platform)
        typed, untyped = rules.check_values(spec, fields, creating=False)
        if not rules.valid_id(account_id):
            raise NotFound(f"{platform} account {account_id[:80]!r} does not exist")
        key = self._k.account(platform, account_id)
        changes = rules.encode_typed(spec, typed)
        changes.update(rules.encode_fields(spec, self._ciphers[platform],
                                           {k: v for k, v in untyped.items() if v is not None}))
        removals = [k for k, v in untyped.items() if v is None]
        result: list[dict[str, Any]] = []

        def work(pipe: Any) -> None:
            old = self._read_stored(pipe, spec, key)
            if old is None:
                raise NotFound(f"{platform} account {account_id} does not exist")
            new = dict(old)
            new.update(changes)
            for name in removals:
                new.pop(name, None)
            pipe.multi()
            if spec.json_record:
                self._write_stored(pipe, spec, key, new)
            else:
                self._write_stored(pipe, spec, key, changes)
                if removals:
                    pipe.hdel(key, *removals)
            if "account_type" in typed:
                self._shared(pipe, platform, account_id, typed["account_type"])
            result[:] = [new]

        with redis_errors():
            self._r.transaction(work, key)
        account = rules.account_from_stored(spec, self._ciphers[platform], account_id, result[0], key)
        assert account is not None
        return account

    def delete(self, platform: str, account_id: str) -> None:
        """Remove the account, its index and shared-pool entries and its group memberships."""
        spec = rules.spec_for(platform)
        if not rules.valid_id(account_id):
            raise NotFound(f"{platform} account {account_id[:80]!r} does not exist")
        k = self._k
        key = k.account(platform, account_id)
        reverse = k.account_groups_reverse(spec.group_platform, account_id)

        def work(pipe: Any) -> None:
            if not pipe.exists(key):
                raise NotFound(f"{platform} account {account_id} does not exist")
            # Upstream removes an account from every group's member set, whatever its reverse index says.
            group_ids = set(pipe.smembers(k.account_groups)) | set(pipe.smembers(reverse))
            pipe.multi()
            pipe.delete(key)
            pipe.srem(k.account_index(platform), account_id)
            shared = k.account_shared_pool(platform)
            if shared is not None:
                pipe.srem(shared, account_id)
            for group_id in group_ids:
                pipe.srem(k.account_group_members(group_id), account_id)
            pipe.delete(reverse)

        with redis_errors():
            self._r.transaction(work, key)

    def _ids(self, platform: str) -> list[str]:
        """Account ids from the index SET; SCAN fallback (and back-fill) when it is empty."""
        k = self._k
        index = k.account_index(platform)
        ids: list[str] = list(self._r.smembers(index))
        if ids or self._r.exists(k.account_index_empty(platform)):
            return ids
        prefix = k.account_prefix(platform)
        found = []
        for name in self._r.scan_iter(match=_glob_escape(prefix) + "*", count=SCAN_COUNT):
            suffix = name[len(prefix):]
            if rules.valid_id(suffix) and suffix != "index":
                found.append(suffix)
        if found:
            self._r.sadd(index, *found)
        else:
            self._r.set(k.account_index_empty(platform), "1")
        return found

    def _fetch(self, spec: rules.PlatformSpec, ids: list[str], *, candidates_only: bool = False) -> list[Account]:
        """Every record of `ids` in one pipeline; ids whose key is gone are skipped."""
        ids = [i for i in ids if rules.valid_id(i)]
        pipe = self._r.pipeline(transaction=False)
        keys = [self._k.account(spec.name, account_id) for account_id in ids]
        for key in keys:
            pipe.get(key) if spec.json_record else pipe.hgetall(key)
        rows = pipe.execute(raise_on_error=False)
        out = []
        for account_id, key, raw in zip(ids, keys, rows):
            if isinstance(raw, redis.ResponseError):
                raise DataError(f"{key}: wrong Redis type for an account record")
            account = self._parse(spec, account_id, raw, key, candidates_only=candidates_only)
            if account is not None:
                out.append(account)
        return out

    def list(self, platform: str) -> list[Account]:
        """Every account of the platform, oldest first (createdAt, then id)."""
        spec = rules.spec_for(platform)
        with redis_errors():
            accounts = self._fetch(spec, self._ids(platform))
        return sorted(accounts, key=rules.list_order)

    def list_schedulable(self, platform: str, *, group_id: str | None = None) -> list[Account]:
        """Scheduler candidates, best first: active, schedulable, healthy status (upstream's filter),
        ordered by priority, least recently used, oldest, id; `group_id` limits them to a group.

        One SMEMBERS (the platform index, or the group's member SET) and one pipeline of reads.
        """
        spec = rules.spec_for(platform)
        if group_id is not None and not isinstance(group_id, str):
            raise InvalidInput("group_id must be a string")
        with redis_errors():
            if group_id is None:
                ids = self._ids(platform)
            else:
                ids = list(self._r.smembers(self._k.account_group_members(group_id)))
            accounts = self._fetch(spec, ids, candidates_only=True)
        return sorted(accounts, key=rules.schedule_order)

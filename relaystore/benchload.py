"""Benchmark data: N API keys loaded identically into MySQL and Redis, fast, with progress.

Deterministic: key i's id, raw key and settings derive from (seed, i), so a benchmark rebuilds the
raw key of any random i instead of holding a million strings, and both backends hold the same
records (each record is built once per batch and handed to every target).

Each backend is written with relaystore's own encoders, so the data is what the DAOs would write:
- MySQL: `to_row()` rows through `executemany` of the DAO's plain INSERT, which PyMySQL rewrites
  into multi-row INSERTs; one transaction per batch.
- Redis: upstream's layout (`apikey:{id}` hash via `encode()` + TTL, `apikey:hash_map`, the index
  sets), pipelined: one burst of pre-encoded commands per batch (mass insertion, not MULTI), with
  one command per index per batch.

A family is a `Family` (how many items for N keys, how to build a batch) plus one method per target
writer named after the family. FAMILIES, in load order:
- api_keys: N keys (above).
- accounts: ACCOUNTS accounts over eight platforms (ACCOUNT_MIX), a few inactive, unschedulable or
  in an error status, secrets encrypted by account_rules as create() does;
- account_groups: GROUPS groups of GROUP_SIZE members each (claude groups mix claude and
  claude-console accounts), so a scheduler read inside a group has data;
- usage: 30 days of usage for one key in USAGE_KEY_EVERY, at most USAGE_MAX_KEYS keys (a relay's
  active keys; the rest are idle): one recorded request per active key and day, at a fixed hour of that day, with a model
  and a matching account. Both writers start from the usage DAOs' own code: MySQL from
  `mysql.usage.rollup_rows()` of each event, the rows of a batch summed per primary key and
  upserted with the DAO's INSERT ... ON DUPLICATE KEY UPDATE; Redis by running
  `RedisUsage.queue_record()` against a recorder, summing each key's increments over the batch and
  sending one command per key (a HINCRBY per field in a short script), each key's TTL counted
  from the request's time, so keys upstream would already have expired (hourly ones after 7 days)
  are not written. Neither writer touches the keys' lastUsedAt (the api_keys family sets it).
The account and usage counts do not grow with N beyond that: ACCOUNTS is fixed (a large
deployment), so the scheduler read measures the same thing at every size.
"""
from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO

from . import account_rules, usage_rules
from .apikey_rules import hash_raw_key
from .errors import InvalidInput
from .records import Account, AccountGroup, ApiKey
from .timefmt import utcnow

DEFAULT_KEYS = 100_000
DEFAULT_BATCH = 2_000
_SPREAD_SECONDS = 30 * 86400  # creation times spread over the last 30 days

# Accounts: a large deployment's mix, fixed whatever the key count (the scheduler reads one platform).
ACCOUNT_MIX = (("claude-console", 160), ("claude", 80), ("openai-responses", 40), ("gemini", 40),
               ("bedrock", 20), ("azure-openai", 20), ("ccr", 20), ("droid", 20))
ACCOUNTS = sum(n for _, n in ACCOUNT_MIX)
ACCOUNT_PLATFORMS = [platform for platform, n in ACCOUNT_MIX for _ in range(n)]
# upstream's accountType of a request served by an account of each platform (usage_rules.OPUSACCOUNT_TYPES)
ACCOUNT_TYPES = {"claude": "claude-official", "claude-console": "claude-console", "ccr": "ccr",
                  "openai-responses": "openai-responses", "gemini": "gemini", "bedrock": "bedrock",
                  "azure-openai": "azure-openai", "droid": "droid"}
GROUPS = ("claude", "claude", "claude", "claude", "openai-responses", "gemini")   # group platform of each group
GROUP_SIZE = 20

# Usage: one key in USAGE_KEY_EVERY, at most USAGE_MAX_KEYS keys spread over the whole set, has a
# request on each of the last USAGE_DAYS days, served by an account that fits its model. 100,000
# and 1,000,000 keys both get 10,000 active keys (300,000 requests, ~1.75 million MySQL rollup rows,
# ~1.9 million Redis keys); one in ten of a million keys would be ten times that for no new insight
# (the usage paths are primary-key reads and upserts of one key's rows).
USAGE_KEY_EVERY = 10
USAGE_MAX_KEYS = 10_000
USAGE_DAYS = 30


def _accounts_of(*platforms: str) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(ACCOUNT_PLATFORMS) if p in platforms)


USAGE_MODELS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("claude-sonnet-4-20250514", _accounts_of("claude-console", "claude")),
    ("claude-sonnet-4-20250514", _accounts_of("claude-console", "claude")),
    ("claude-opus-4-1-20250805", _accounts_of("claude", "claude-console")),
    ("claude-3-5-haiku-20241022", _accounts_of("claude-console", "ccr")),
    ("gpt-5", _accounts_of("openai-responses", "azure-openai")),
    ("gemini-2.5-pro", _accounts_of("gemini")),
)


@dataclass(frozen=True)
class DataSet:
    """What to generate: `keys` API keys from `seed`, hashed with `encryption_key` as the relay would."""

    keys: int
    encryption_key: str
    api_key_prefix: str = "cr_"
    seed: int = 1
    now: datetime = field(default_factory=utcnow)
    timezone_offset: int = 8   # the relay's TIMEZONE_OFFSET: usage buckets follow it

    def _material(self, kind: str, i: int) -> str:
        return hashlib.sha256(f"relaystore-bench:{self.seed}:{kind}:{i}".encode()).hexdigest()

    def raw_key(self, i: int) -> str:
        """The raw key of key i (upstream's format: prefix + 64 hex chars)."""
        return self.api_key_prefix + self._material("raw", i)

    def key_id(self, i: int) -> str:
        return str(uuid.UUID(hex=self._material("id", i)[:32], version=4))

    def api_key(self, i: int) -> ApiKey:
        """Key i: a realistic mix of limits, tags and times; always active and fixed-expiry, so
        authenticating it is a pure read (an activation-mode key would write on first use)."""
        created = self.now - timedelta(seconds=_SPREAD_SECONDS * (self.keys - i) // max(self.keys, 1))
        tags: tuple[str, ...] = ()
        if i % 4 == 0:
            tags = (f"team-{i % 50}",) + (("prod",) if i % 12 == 0 else ())
        return ApiKey(
            id=self.key_id(i),
            name=f"bench key {i:07d}",
            key_hash=hash_raw_key(self.raw_key(i), self.encryption_key),
            concurrency_limit=10 if i % 5 == 0 else 0,
            rate_limit_window=60 if i % 7 == 0 else 0,
            rate_limit_requests=1000 if i % 7 == 0 else 0,
            permissions=("claude",) if i % 6 == 0 else (),
            daily_cost_limit=50.0 if i % 3 == 0 else 0.0,
            total_cost_limit=1000.0 if i % 9 == 0 else 0.0,
            tags=tags,
            activated_at=created,
            created_at=created,
            last_used_at=created + timedelta(hours=1) if i % 2 == 0 else None,
            expires_at=self.now + timedelta(days=365) if i % 10 == 0 else None,
        )


    def account(self, i: int) -> tuple[Account, dict[str, Any]]:
        """Account i and its stored upstream fields (secrets encrypted, as create() stores them)."""
        platform = ACCOUNT_PLATFORMS[i]
        spec = account_rules.PLATFORMS[platform]
        secret = "apiKey" if "apiKey" in spec.secret_fields else \
            "bearerToken" if "bearerToken" in spec.secret_fields else "accessToken"
        fields: dict[str, Any] = {
            "id": self.account_id(i), "name": f"bench {platform} {i:04d}", "priority": 10 * (i % 10),
            "is_active": i % 17 != 0, "schedulable": i % 29 != 0,
            "status": "error" if i % 23 == 0 else "active",
            "account_type": "dedicated" if i % 8 == 0 else "shared",
            "last_used_at": self.now - timedelta(minutes=i % 600),
            secret: f"sk-bench-{self._material('secret', i)[:40]}",
        }
        if platform in ("claude-console", "openai-responses", "azure-openai", "ccr"):
            fields["apiUrl"] = "https://api.example/v1"
        created = self.now - timedelta(days=60) + timedelta(minutes=i)
        account, plain = account_rules.new_account(spec, fields, created)
        return account, account_rules.encode_fields(spec, _ciphers(self.encryption_key)[platform], plain)

    def account_id(self, i: int) -> str:
        return str(uuid.UUID(hex=self._material("account", i)[:32], version=4))

    def group(self, g: int) -> tuple[AccountGroup, list[str]]:
        """Group g and its member account ids (the next GROUP_SIZE accounts of its group platform)."""
        platform = GROUPS[g]
        members = [i for i in range(ACCOUNTS)
                   if account_rules.group_platform(ACCOUNT_PLATFORMS[i]) == platform]
        before = GROUPS[:g].count(platform)
        chosen = members[before * GROUP_SIZE:(before + 1) * GROUP_SIZE]
        created = account_rules.to_ms_utc(self.now - timedelta(days=59, minutes=-g))
        group = AccountGroup(id=str(uuid.UUID(hex=self._material("group", g)[:32], version=4)),
                             name=f"bench {platform} group {g}", platform=platform,
                             created_at=created, updated_at=created)
        return group, [self.account_id(i) for i in chosen]

    def usage_event(self, j: int) -> usage_rules.UsageEvent:
        """Usage item j: active key number j // USAGE_DAYS, j % USAGE_DAYS days ago."""
        n, days_ago = divmod(j, USAGE_DAYS)
        i = self.active_key_indexes()[n]
        model, accounts = USAGE_MODELS[(n + days_ago) % len(USAGE_MODELS)]
        account = accounts[(i + days_ago) % len(accounts)]
        # hour `hour` of the local day days_ago back (buckets are local days), never later than now
        shift = timedelta(hours=self.timezone_offset)
        local = (self.now + shift - timedelta(days=days_ago)).replace(hour=(i * 7 + days_ago) % 24, minute=i % 60,
                                                                       second=0, microsecond=0)
        at = min(local - shift, self.now - timedelta(minutes=1))
        inp = 500 + (i * 37 + days_ago * 11) % 20_000
        out = 50 + (i * 13 + days_ago) % 2_000
        cost = round(inp * 3e-6 + out * 15e-6, 6)
        return usage_rules.usage_event(
            self.key_id(i), model=model, input_tokens=inp, output_tokens=out,
            cache_read_tokens=inp * 2 if i % 3 == 0 else 0, cache_create_tokens=inp // 4 if i % 5 == 0 else 0,
            real_cost=cost, rated_cost=cost, account_id=self.account_id(account),
            account_type=ACCOUNT_TYPES[ACCOUNT_PLATFORMS[account]], at=at, offset_hours=self.timezone_offset)

    def active_key_indexes(self) -> range:
        """The keys that have usage: every USAGE_KEY_EVERY-th, or sparser to stay at USAGE_MAX_KEYS."""
        return range(0, self.keys, max(USAGE_KEY_EVERY, -(-self.keys // USAGE_MAX_KEYS)))


class Family(Protocol):
    """One kind of generated data; `name` is also the target writer method that stores a batch."""

    name: str

    def count(self, data: DataSet) -> int: ...                      # items for data.keys keys
    def build(self, data: DataSet, start: int, stop: int) -> list[Any]: ...


class ApiKeyFamily:
    """Item i is DataSet.api_key(i)."""

    name = "api_keys"

    def count(self, data: DataSet) -> int:
        return data.keys

    def build(self, data: DataSet, start: int, stop: int) -> list[ApiKey]:
        return [data.api_key(i) for i in range(start, stop)]


class AccountFamily:
    """Item i is DataSet.account(i); ACCOUNTS whatever N is."""

    name = "accounts"

    def count(self, data: DataSet) -> int:
        return ACCOUNTS

    def build(self, data: DataSet, start: int, stop: int) -> list[tuple[Account, dict[str, Any]]]:
        return [data.account(i) for i in range(start, stop)]


class AccountGroupFamily:
    """Item g is DataSet.group(g): the group and its members."""

    name = "account_groups"

    def count(self, data: DataSet) -> int:
        return len(GROUPS)

    def build(self, data: DataSet, start: int, stop: int) -> list[tuple[AccountGroup, list[str]]]:
        return [data.group(g) for g in range(start, stop)]


class UsageFamily:
    """Item j is DataSet.usage_event(j): USAGE_DAYS requests per active key."""

    name = "usage"

    def count(self, data: DataSet) -> int:
        return len(data.active_key_indexes()) * USAGE_DAYS

    def build(self, data: DataSet, start: int, stop: int) -> list[tuple[usage_rules.UsageEvent, str | None]]:
        """(event, its Opus week bucket or None): Redis needs the week, computed with the key's reset (Monday 0h)."""
        out = []
        for j in range(start, stop):
            ev = data.usage_event(j)
            out.append((ev, usage_rules.weekly_period(ev.at, data.timezone_offset) if ev.opus else None))
        return out


# Loaded in this order: usage names keys and accounts.
FAMILIES: list[Family] = [ApiKeyFamily(), AccountFamily(), AccountGroupFamily(), UsageFamily()]


# Items of a family already in a MySQL database; a new family adds its count here.
_COUNTS = {"api_keys": "SELECT COUNT(*) AS n FROM api_keys", "accounts": "SELECT COUNT(*) AS n FROM accounts",
           "account_groups": "SELECT COUNT(*) AS n FROM account_groups",
           "usage": "SELECT COUNT(*) AS n FROM usage_rollups WHERE scope = 'k' AND period = 'D' AND model = ''"}


class MySQLTarget:
    """Writes batches through a MySQLPool, one transaction per batch."""

    backend = "mysql"

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def api_keys(self, items: Sequence[ApiKey]) -> None:
        from .mysql.api_keys import INSERT_API_KEY, INSERT_API_KEY_TAG, to_row

        tags = [(tag, key.id) for key in items for tag in dict.fromkeys(key.tags)]
        with self.pool.transaction() as cur:
            cur.executemany(INSERT_API_KEY, [to_row(key) for key in items])
            if tags:
                cur.executemany(INSERT_API_KEY_TAG, tags)

    def accounts(self, items: Sequence[tuple[Account, dict[str, Any]]]) -> None:
        from .mysql.accounts import INSERT_ACCOUNT, to_row

        rows = [to_row(a.platform, a.id, account_rules.typed_of(a), stored) for a, stored in items]
        with self.pool.transaction() as cur:
            cur.executemany(INSERT_ACCOUNT, rows)

    def account_groups(self, items: Sequence[tuple[AccountGroup, list[str]]]) -> None:
        from .mysql.account_groups import INSERT_ACCOUNT_GROUP, INSERT_ACCOUNT_GROUP_MEMBER, to_row

        with self.pool.transaction() as cur:
            cur.executemany(INSERT_ACCOUNT_GROUP, [to_row(group) for group, _ in items])
            cur.executemany(INSERT_ACCOUNT_GROUP_MEMBER, [{"group_id": group.id, "account_id": member}
                                                          for group, members in items for member in members])

    def usage(self, items: Sequence[tuple[usage_rules.UsageEvent, str | None]]) -> None:
        """The batch's rollup rows (the DAO's rollup_rows), summed per primary key, upserted as record() does."""
        from .mysql import bulk
        from .mysql.usage import INSERT_USAGE_ROLLUPS, ROLLUP_COLUMNS, rollup_rows

        insert = INSERT_USAGE_ROLLUPS.format(rows="(" + ", ".join(["%s"] * len(ROLLUP_COLUMNS)) + ")")
        rows = _sum_rollups(row for ev, _ in items for row in rollup_rows(ev))
        with self.pool.transaction() as cur:
            bulk.executemany(cur, insert, rows)

    def count(self, family: str) -> int:
        """Rows a family holds (is_loaded() checks api_keys)."""
        row = self.pool.fetchone(_COUNTS[family])
        return int(row["n"]) if row else 0


def _ciphers(encryption_key: str) -> dict[str, Any]:
    """account_rules' per-platform ciphers for a key, made once (key derivation is deliberately slow)."""
    if encryption_key not in _CIPHERS:
        from .config import Settings

        _CIPHERS[encryption_key] = account_rules.make_ciphers(Settings(encryption_key=encryption_key))
    return _CIPHERS[encryption_key]


_CIPHERS: dict[str, dict[str, Any]] = {}


def _sum_rollups(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rollup rows with the same primary key (first 5 columns) summed, in primary-key order."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key, counters = row[:5], row[5:]
        acc = sums.get(key)
        if acc is None:
            sums[key] = list(counters)
        else:
            for n, value in enumerate(counters):
                acc[n] += value
    return [key + tuple(counters) for key, counters in sorted(sums.items())]


def _resp(args: Sequence[str | bytes | int]) -> bytes:
    """One command in RESP, the form `redis-cli --pipe` mass insertion sends; ~2.5x faster than
    redis-py's general-purpose packer, which dominated the Redis load time."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


# Several HINCRBYs of one hash in one command (the loader's, not the relay's: it sends summed increments).
_HINCRBY_MANY = """
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class _UsageRecorder:
    """Stands in for the redis-py pipeline RedisUsage.queue_record() writes to: sums each key's writes.

    `age` is how long ago the event being queued happened: a key's TTL counts from its last write, so
    a key whose every write is older than its TTL would be gone already and is not written at all.
    """

    def __init__(self) -> None:
        self.age = 0.0
        self.hashes: dict[str, dict[str, int]] = {}
        self.floats: dict[str, float] = {}
        self.sets: dict[str, set[str]] = {}
        self.ttl: dict[str, float] = {}

    def hincrby(self, key: str, name: str, amount: int) -> None:
        fields = self.hashes.setdefault(key, {})
        fields[name] = fields.get(name, 0) + amount

    def incrbyfloat(self, key: str, amount: float) -> None:
        self.floats[key] = self.floats.get(key, 0.0) + amount

    def sadd(self, key: str, *members: str) -> None:
        self.sets.setdefault(key, set()).update(members)

    def expire(self, key: str, seconds: int) -> None:
        left = seconds - self.age
        self.ttl[key] = max(self.ttl.get(key, left), left)

    def delete(self, *keys: str) -> None:
        """The `:empty` markers of the index sets: there are none in a freshly loaded prefix."""

    def eval(self, *args: Any) -> None:
        """lastUsedAt: left as the api_keys family wrote it."""

    def commands(self, hincr_sha: str) -> list[bytes]:
        ttl = self.ttl
        out: list[bytes] = []
        for key, fields in self.hashes.items():
            if ttl.get(key, 1) > 0:
                out.append(_resp(["EVALSHA", hincr_sha, "1", key, *[p for pair in fields.items() for p in pair]]))
        for key, amount in self.floats.items():
            if ttl.get(key, 1) > 0:
                out.append(_resp(["INCRBYFLOAT", key, repr(amount)]))
        for key, members in self.sets.items():
            if ttl.get(key, 1) > 0:
                out.append(_resp(["SADD", key, *sorted(members)]))
        out += [_resp(["EXPIRE", key, max(1, int(left))]) for key, left in ttl.items() if left > 0]
        return out


class RedisTarget:
    """Writes batches in upstream's layout: one pipelined burst of commands per batch."""

    backend = "redis"

    def __init__(self, client: Any, keys: Any) -> None:
        self.client = client
        self.keys = keys
        self._hincr_sha: str | None = None

    def _send(self, commands: list[bytes]) -> None:
        """Send pre-encoded commands on one pooled connection and read every reply (errors raise)."""
        from .redis.client import redis_errors

        with redis_errors():
            pool = self.client.connection_pool
            conn = pool.get_connection()
            try:
                conn.send_packed_command(commands)
                for _ in commands:
                    conn.read_response()
            finally:
                pool.release(conn)

    def api_keys(self, items: Sequence[ApiKey]) -> None:
        from .redis.api_keys import _ms, _name_member, encode
        from .redis.keys import API_KEY_TTL_SECONDS

        k = self.keys
        ttl = str(API_KEY_TTL_SECONDS)
        commands: list[bytes] = []
        by_tag: dict[str, list[str]] = {}
        for key in items:
            redis_key = k.api_key(key.id)
            fields = [part for pair in encode(key).items() for part in pair]
            commands.append(_resp(["HSET", redis_key, *fields]))
            commands.append(_resp(["EXPIRE", redis_key, ttl]))
            for tag in key.tags:
                by_tag.setdefault(tag, []).append(key.id)
        # The index entries RedisApiKeys.create() writes, one command per index for the batch.
        ids = [key.id for key in items]
        commands.append(_resp(["HSET", k.api_key_hash_map,
                               *[part for key in items for part in (key.key_hash, key.id)]]))
        commands.append(_resp(["SADD", k.api_key_idx_all, *ids]))
        commands.append(_resp(["ZADD", k.api_key_idx_created_at,
                               *[p for key in items for p in (str(_ms(key.created_at)), key.id)]]))
        commands.append(_resp(["ZADD", k.api_key_idx_last_used_at,
                               *[p for key in items for p in (str(_ms(key.last_used_at)), key.id)]]))
        commands.append(_resp(["ZADD", k.api_key_idx_name, *[p for key in items for p in ("0", _name_member(key))]]))
        active = [key.id for key in items if key.is_active and not key.is_deleted]
        if active:
            commands.append(_resp(["SADD", k.api_key_set_active, *active]))
        for tag, members in by_tag.items():
            commands.append(_resp(["SADD", k.api_key_tag(tag), *members]))
        if by_tag:
            commands.append(_resp(["SADD", k.api_key_tags_all, *by_tag]))
        self._send(commands)

    def accounts(self, items: Sequence[tuple[Account, dict[str, Any]]]) -> None:
        """What RedisAccounts.create() writes: the record, the platform index, the shared pool."""
        from .jsnum import js_json

        k = self.keys
        commands: list[bytes] = []
        for account, stored in items:
            spec = account_rules.PLATFORMS[account.platform]
            full = account_rules.encode_typed(spec, account_rules.typed_of(account))
            full.update(stored)
            key = k.account(account.platform, account.id)
            if spec.json_record:
                commands.append(_resp(["SET", key, js_json(full)]))
            else:
                commands.append(_resp(["HSET", key, *[part for pair in full.items() for part in pair]]))
            commands.append(_resp(["SADD", k.account_index(account.platform), account.id]))
            shared = k.account_shared_pool(account.platform)
            if shared is not None and account.account_type == "shared":
                commands.append(_resp(["SADD", shared, account.id]))
        self._send(commands)

    def account_groups(self, items: Sequence[tuple[AccountGroup, list[str]]]) -> None:
        """What RedisAccountGroups.create() and add_member() write."""
        k = self.keys
        commands: list[bytes] = []
        for group, members in items:
            fields = account_rules.encode_group(group)
            commands.append(_resp(["HSET", k.account_group(group.id), *[p for pair in fields.items() for p in pair]]))
            commands.append(_resp(["SADD", k.account_groups, group.id]))
            if members:
                commands.append(_resp(["SADD", k.account_group_members(group.id), *members]))
            for member in members:
                commands.append(_resp(["SADD", k.account_groups_reverse(group.platform, member), group.id]))
        self._send(commands)

    def usage(self, items: Sequence[tuple[usage_rules.UsageEvent, str | None]]) -> None:
        """RedisUsage.queue_record() of every event into a recorder, then one command per key touched."""
        from .config import Settings
        from .redis.usage import RedisUsage

        writer = RedisUsage(self.client, self.keys, Settings())   # only its queue_record() is used
        recorder = _UsageRecorder()
        now = utcnow()
        for ev, opus_period in items:
            recorder.age = (now - ev.at).total_seconds()
            writer.queue_record(recorder, ev, opus_period=opus_period)
        if self._hincr_sha is None:
            from .redis.client import redis_errors

            with redis_errors():
                self._hincr_sha = self.client.script_load(_HINCRBY_MANY)
        self._send(recorder.commands(self._hincr_sha))

    def count(self, family: str) -> int:
        """Items of a family already under the prefix (is_loaded() checks api_keys)."""
        from .redis.client import redis_errors

        if family != "api_keys":
            raise ValueError(f"no Redis count for {family}")
        with redis_errors():
            return int(self.client.hlen(self.keys.api_key_hash_map))


class Progress:
    """One stderr line: rewritten in place on a terminal, else printed every 10%."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label = max(total, 1), label
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._next_decile = 1

    def update(self, done: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = done * 100 // self.total
        width = 30
        bar = "#" * (width * done // self.total) + "-" * (width - width * done // self.total)
        line = f"{self.label} [{bar}] {done:,}/{self.total:,} {pct}% {elapsed:.1f} s {rate:,.0f}/s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done >= self.total else ""))
            self.stream.flush()
        elif pct >= self._next_decile * 10 or done >= self.total:
            self._next_decile = pct // 10 + 1
            self.stream.write(line + "\n")


@dataclass
class LoadReport:
    """Items written per family (to every target), and the wall time."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{name}: {n:,}" for name, n in self.counts.items()]
        return out + [f"loaded in {self.seconds:.1f} s"]


def load(data: DataSet, targets: Iterable[Any], *, batch_size: int = DEFAULT_BATCH,
         families: Sequence[Family] | None = None,
         progress: Callable[[int, str], Progress] | None = None) -> LoadReport:
    """Build every family batch by batch and write each batch to every target (same records in each)."""
    targets = list(targets)
    report = LoadReport()
    started = time.monotonic()
    for family in FAMILIES if families is None else families:
        total = family.count(data)
        label = f"{family.name} -> {'+'.join(t.backend for t in targets)}"
        bar = progress(total, label) if progress else None
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            items = family.build(data, start, stop)
            for target in targets:
                getattr(target, family.name)(items)
            if bar:
                bar.update(stop)
        report.counts[family.name] = total
    report.seconds = time.monotonic() - started
    return report


def clear_redis_prefix(client: Any, prefix: str) -> int:
    """Delete every key under a non-empty prefix (scratch data only); returns how many went."""
    from .redis.client import redis_errors

    if not prefix:
        raise InvalidInput("refusing to clear Redis without a key prefix (that would be the relay's own data)")
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
    removed = 0
    with redis_errors():
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=5000):  # deleting seen keys mid-SCAN is safe
            batch.append(key)
            if len(batch) == 5000:
                removed += int(client.delete(*batch))
                batch = []
        if batch:
            removed += int(client.delete(*batch))
    return removed


def is_loaded(data: DataSet, target: Any) -> bool:
    """True when a target already holds this data set: the right count and the last key readable."""
    if data.keys == 0 or target.count("api_keys") != data.keys:
        return False
    if target.backend == "mysql":
        from .mysql.api_keys import MySQLApiKeys
        store: Any = MySQLApiKeys(target.pool, _settings_for(data))
    else:
        from .redis.api_keys import RedisApiKeys
        store = RedisApiKeys(target.client, target.keys, _settings_for(data))
    found = store.get(data.key_id(data.keys - 1))
    if found is None or found.key_hash != data.api_key(data.keys - 1).key_hash:
        return False
    # usage is loaded last: its last item must be there (its day moves with data.now, so a set kept
    # from another day is not "loaded" and the caller loads it again)
    last = data.usage_event(UsageFamily().count(data) - 1)
    if target.backend == "mysql":
        from .mysql.usage import MySQLUsage
        usage: Any = MySQLUsage(target.pool, _settings_for(data))
    else:
        from .redis.usage import RedisUsage
        usage = RedisUsage(target.client, target.keys, _settings_for(data))
    return usage.totals(last.key_id, period="daily", date=last.buckets.day).requests > 0


def _settings_for(data: DataSet) -> Any:
    from .config import Settings

    return Settings(encryption_key=data.encryption_key, api_key_prefix=data.api_key_prefix,
                    timezone_offset=data.timezone_offset)

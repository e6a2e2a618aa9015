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

Extension points: a family is a `Family` (how many items for N keys, how to build a batch) plus one
method per target writer named after the family. Issue 4 adds accounts (a few per platform, bound
to keys) and issue 3 adds 30 days of usage per key: append their Family to FAMILIES and a writer
method to MySQLTarget and RedisTarget, using their DAO modules' encoders. Nothing here invents
their schemas.
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

from .apikey_rules import hash_raw_key
from .errors import InvalidInput
from .records import ApiKey
from .timefmt import utcnow

DEFAULT_KEYS = 100_000
DEFAULT_BATCH = 2_000
_SPREAD_SECONDS = 30 * 86400  # creation times spread over the last 30 days


@dataclass(frozen=True)
class DataSet:
    """What to generate: `keys` API keys from `seed`, hashed with `encryption_key` as the relay would."""

    keys: int
    encryption_key: str
    api_key_prefix: str = "cr_"
    seed: int = 1
    now: datetime = field(default_factory=utcnow)

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


# Loaded in this order. Issue 4: accounts (before usage, which names them); issue 3: usage.
FAMILIES: list[Family] = [ApiKeyFamily()]


# Items of a family already in a MySQL database; a new family adds its count here.
_COUNTS = {"api_keys": "SELECT COUNT(*) AS n FROM api_keys"}


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

    def count(self, family: str) -> int:
        """Rows a family holds (is_loaded() checks api_keys)."""
        row = self.pool.fetchone(_COUNTS[family])
        return int(row["n"]) if row else 0


def _resp(args: Sequence[str | bytes]) -> bytes:
    """One command in RESP, the form `redis-cli --pipe` mass insertion sends; ~2.5x faster than
    redis-py's general-purpose packer, which dominated the Redis load time."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisTarget:
    """Writes batches in upstream's layout: one pipelined burst of commands per batch."""

    backend = "redis"

    def __init__(self, client: Any, keys: Any) -> None:
        self.client = client
        self.keys = keys

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
    return found is not None and found.key_hash == data.api_key(data.keys - 1).key_hash


def _settings_for(data: DataSet) -> Any:
    from .config import Settings

    return Settings(encryption_key=data.encryption_key, api_key_prefix=data.api_key_prefix)

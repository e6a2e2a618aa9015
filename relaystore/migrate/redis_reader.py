"""Read a family's keys from Redis: SCAN with MATCH, a regex on the key shape, pipelined fetches.

Never KEYS. MATCH over-selects (upstream's `apikey:*` also matches apikey:hash_map, apikey:idx:*,
apikey:set:*, apikey:tag:*, apikey:tags:*, apikey:index:*), so every name is checked against the
family's regex. SCAN's TYPE filter is deliberately not used: it would silently hide a key of the
family's shape stored under the wrong type, which must be reported as a bad value; instead the
fetch reads each key as the type its source declares and a WRONGTYPE reply becomes that report
(the regex already keeps index keys of other types out). SCAN may return a key twice while
Redis resizes its table: batches are de-duplicated, and a key copied twice in different batches
is harmless because every write is absolute.
"""
from __future__ import annotations

import re
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from ..redis.client import redis_errors
from .family import Family, KeySource

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """`text` as a literal inside a SCAN MATCH pattern (a prefix may hold glob characters)."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def scan_family(client: redis.Redis, prefix: str, family: Family, *, count: int = 1000) -> Iterator[str]:
    """The relative names of every key of the family's shape (SCAN MATCH + regex; exact names looked up).

    Sources that share a MATCH pattern are served by one SCAN (each SCAN walks the whole keyspace,
    so a family with a source per platform gives them one broad pattern).
    """
    shared: dict[str, list[KeySource]] = {}
    for source in family.sources:
        if source.match is not None and sum(s.match == source.match for s in family.sources) > 1:
            shared.setdefault(source.match, []).append(source)
        else:
            yield from _scan_source(client, prefix, source, count)
    for match, sources in shared.items():
        skip = len(prefix)
        with redis_errors():
            for full in client.scan_iter(match=glob_escape(prefix) + match, count=count):
                key = full[skip:]
                if any(source.regex.fullmatch(key) for source in sources):
                    yield key


def _scan_source(client: redis.Redis, prefix: str, source: KeySource, count: int) -> Iterator[str]:
    with redis_errors():
        if source.names:
            pipe = client.pipeline(transaction=False)
            for name in source.names:
                pipe.exists(prefix + name)
            for name, found in zip(source.names, pipe.execute()):
                if found:
                    yield name
            return
        assert source.match is not None
        skip = len(prefix)
        for full in client.scan_iter(match=glob_escape(prefix) + source.match, count=count):
            key = full[skip:]
            if source.regex.fullmatch(key):
                yield key


def scan_all(client: redis.Redis, prefix: str, *, count: int = 1000) -> Iterator[str]:
    """Every relative key under the prefix (export, emptiness checks)."""
    skip = len(prefix)
    with redis_errors():
        for full in client.scan_iter(match=glob_escape(prefix) + "*", count=count):
            yield full[skip:]


def queue_read(pipe: Any, full_key: str, kind: str) -> None:
    """Queue the command that reads a whole value of this type."""
    if kind == "hash":
        pipe.hgetall(full_key)
    elif kind == "string":
        pipe.get(full_key)
    elif kind == "list":
        pipe.lrange(full_key, 0, -1)
    elif kind == "set":
        pipe.smembers(full_key)
    elif kind == "zset":
        pipe.zrange(full_key, 0, -1, withscores=True)
    elif kind == "stream":
        pipe.xrange(full_key, "-", "+")
    else:
        raise ValueError(f"cannot read Redis type {kind!r}")


@dataclass
class Fetched:
    """One key as read: `value` None when the key is gone; `error` set when it could not be read as its type."""

    key: str
    value: Any
    pttl_ms: int | None     # None when not asked for
    error: str | None = None
    expire_at_ms: int | None = None   # absolute expiry in epoch ms (-1: no TTL, -2: gone); None when not asked for


# Redis 7.0+ answers PEXPIRETIME: a key's expiry as the server stores it, the same on every read, where
# now + PTTL moves by the milliseconds between the server's clock and ours. Checked once per client.
_PEXPIRETIME: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _has_pexpiretime(client: redis.Redis) -> bool:
    known = _PEXPIRETIME.get(client)
    if known is None:
        try:
            version = str(client.info("server").get("redis_version", "0"))
            known = version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 7
        except redis.ResponseError:   # INFO disabled (renamed away on some managed servers): use PTTL
            known = False
        _PEXPIRETIME[client] = known
    return known


def fetch(client: redis.Redis, prefix: str, items: Sequence[tuple[str, str]], *,
          seq_key: str | None = None, ttl: bool = True,
          label: Callable[[str], str] | None = None) -> tuple[list[Fetched], int | None]:
    """Values (and PTTLs and absolute expiries, unless ttl=False) of (relative key, type) pairs in one pipeline.

    Error messages name a key as `label(key)` (Family.label: redacted when the name is a secret).

    With `seq_key` the reads and an INCR of it run as one MULTI/EXEC: the returned number orders
    this snapshot against every other copy of the same keys (see mysql_writer.guard). Without it
    (dry run, verify) nothing is written.
    """
    with redis_errors():
        exact = ttl and _has_pexpiretime(client)
        pipe = client.pipeline(transaction=seq_key is not None)
        for key, kind in items:
            queue_read(pipe, prefix + key, kind)
            if exact:
                pipe.execute_command("PEXPIRETIME", prefix + key)
            elif ttl:
                pipe.pttl(prefix + key)
        if seq_key is not None:
            pipe.incr(seq_key)
        results = pipe.execute(raise_on_error=False)
    now_ms = time.time_ns() // 1_000_000
    seq = None
    if seq_key is not None:
        last = results.pop()
        if isinstance(last, Exception):
            raise last
        seq = int(last)
    out = []
    values, ttls = (results[0::2], results[1::2]) if ttl else (results, [None] * len(results))
    for (key, kind), value, raw_ttl in zip(items, values, ttls):
        if isinstance(value, redis.ResponseError):
            # The key changed type since the scan; the message says so without the value.
            name = key if label is None else label(key)
            out.append(Fetched(key, None, -2, f"{name}: wrong Redis type, expected a {kind}", expire_at_ms=-2))
        elif isinstance(value, Exception):
            raise value
        else:
            present = value is not None and value != {} and value != [] and value != set()
            pttl = expire_at = None
            if raw_ttl is not None:
                if not present:
                    pttl = expire_at = -2
                elif exact:
                    expire_at = int(raw_ttl)
                    pttl = expire_at - now_ms if expire_at >= 0 else expire_at
                else:
                    pttl = int(raw_ttl)
                    expire_at = now_ms + pttl if pttl >= 0 else pttl
            out.append(Fetched(key, value if present else None, pttl, expire_at_ms=expire_at))
    return out, seq

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


# SCAN's COUNT hint (keys the server examines per call), independent of the copy's --batch-size: a
# small COUNT on a large database makes thousands of round trips for one walk of the keyspace.
SCAN_COUNT = 1000


def _glob_regex(glob: str) -> re.Pattern[str]:
    """A Redis MATCH glob (*, ?, [...] with ^ and ranges, backslash escapes) as a full-match regex."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        elif char == "[" and glob.find("]", i + 2) != -1:
            end = glob.find("]", i + 2)
            body = glob[i + 1:end]
            negate = body.startswith("^") and len(body) > 1
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _literal_head(glob: str) -> str:
    """The glob's leading literal text (every key it matches starts with it)."""
    end = next((i for i, c in enumerate(glob) if c in "*?[\\"), len(glob))
    return glob[:end]


_Route = tuple[int, str, KeySource, "re.Pattern[str]"]


class KeyRouter:
    """Routes a relative key name to the families owning it: what one SCAN pass over the prefix needs.

    A key belongs to a family when it matches one of its sources' MATCH glob and regex (what a SCAN
    MATCH per source found). Sources are bucketed by the first `width` characters of their glob's
    literal head, so a key is tested against the few sources that could own it, not all of them; a
    glob without a head (`*usage:*`) is first tested by its longest literal part.
    """

    def __init__(self, families: Sequence[Family]) -> None:
        self.globs = sorted({s.match for f in families for s in f.sources if s.match is not None})
        routes: list[_Route] = []
        for index, family in enumerate(families):
            for source in family.sources:
                if source.match is not None:
                    head = _literal_head(source.match)
                    needle = head or max(re.split(r"\\.|[*?]|\[[^]]*\]", source.match), key=len)
                    routes.append((index, needle, source, _glob_regex(source.match)))
        heads = [needle for _, needle, source, _ in routes if _literal_head(source.match or "")]
        self.width = min((len(h) for h in heads), default=0)
        self._any = [r for r in routes if not _literal_head(r[2].match or "")]
        self._by_head: dict[str, list[_Route]] = {}
        for route in routes:
            if route not in self._any:
                self._by_head.setdefault(route[1][:self.width], []).append(route)
        for entries in self._by_head.values():
            entries.extend(self._any)

    def route(self, key: str) -> list[int]:
        """Indexes (into the router's families) of the families owning `key`, in the families' order."""
        owners: list[int] = []
        for index, needle, source, glob in self._by_head.get(key[:self.width], self._any):
            if (index not in owners and needle in key and source.regex.fullmatch(key) is not None
                    and glob.fullmatch(key) is not None):
                owners.append(index)
        return owners


def scan_families(client: redis.Redis, prefix: str, families: Sequence[Family], *,
                  count: int = SCAN_COUNT) -> list[list[str]]:
    """The relative names of every key of each family's shape, one list per family (deduplicated).

    One SCAN walks the keyspace for all of them: every SCAN walks the whole database whatever its
    MATCH, so a SCAN per source made the walk ~25 times. The MATCH is the families' one glob when
    they share one, else the prefix alone; each name is routed by KeyRouter. Exact names are looked
    up directly. Memory: the names only (~100 bytes a key), a few hundred MB at a few million keys.
    """
    found: list[dict[str, None]] = [{} for _ in families]
    router = KeyRouter(families)
    with redis_errors():
        if router.globs:
            match = router.globs[0] if len(router.globs) == 1 else "*"
            skip = len(prefix)
            route = router.route
            for full in client.scan_iter(match=glob_escape(prefix) + match, count=max(count, SCAN_COUNT)):
                key = full[skip:]
                for index in route(key):
                    found[index][key] = None
        for index, family in enumerate(families):
            names = [name for source in family.sources for name in source.names]
            if names:
                pipe = client.pipeline(transaction=False)
                for name in names:
                    pipe.exists(prefix + name)
                for name, present in zip(names, pipe.execute()):
                    if present:
                        found[index][name] = None
    return [list(keys) for keys in found]


def scan_family(client: redis.Redis, prefix: str, family: Family, *, count: int = SCAN_COUNT) -> list[str]:
    """The relative names of every key of one family's shape (scan_families for one family)."""
    return scan_families(client, prefix, [family], count=count)[0]


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

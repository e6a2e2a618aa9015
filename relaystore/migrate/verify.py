"""`relaystore verify`: Redis and MySQL compared family by family, in both directions.

For every key a family owns in Redis: decoded and compared field by field with its MySQL
record; for every MySQL record: its Redis key must exist. Keys that differ are re-read from
both sides a few times before they are reported, so a relay writing in dual mode (each write
reaches MySQL a moment after Redis) does not produce false differences. Values are never
printed: only key names, field names and counts.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from ..config import Settings
from ..errors import DataError
from ..redis.client import redis_errors
from . import families as registry
from .family import Family
from .redis_reader import fetch, scan_families, scan_family
from .report import table
from .run import Endpoints
from .sync import redact

EXAMPLES_SHOWN = 10


@dataclass
class FamilyDiff:
    name: str
    redis_count: int = 0
    mysql_count: int = 0
    only_redis: list[str] = field(default_factory=list)
    only_mysql: list[str] = field(default_factory=list)
    differing: dict[str, list[str]] = field(default_factory=dict)   # key -> field names
    undecodable: dict[str, str] = field(default_factory=dict)       # key -> message

    @property
    def clean(self) -> bool:
        return not (self.only_redis or self.only_mysql or self.differing or self.undecodable)


def _compare_keys(ends: Endpoints, family: Family, keys: list[str]
                  ) -> tuple[list[str], dict[str, list[str]], dict[str, str], list[str]]:
    """(only in Redis, differing fields, undecodable, only in MySQL) among these keys."""
    items = [(k, family.owns(k).type) for k in keys]  # type: ignore[union-attr]
    fetched, _ = fetch(ends.redis, ends.keys.prefix, items, ttl=family.needs_ttl, label=family.label)
    mysql = family.read_mysql(ends.pool, keys)
    only_redis, differing, undecodable, only_mysql = [], {}, {}, []
    for item in fetched:
        if item.error is not None:
            undecodable[item.key] = item.error
            continue
        if item.value is None:
            if item.key in mysql:
                only_mysql.append(item.key)
            continue
        try:
            record = family.decode_fetched(item)
        except DataError as exc:
            undecodable[item.key] = redact(str(exc))
            continue
        other = mysql.get(item.key)
        if other is None:
            only_redis.append(item.key)
            continue
        fields = family.compare(record, other)
        if fields:
            differing[item.key] = fields
    return only_redis, differing, undecodable, only_mysql


def verify_family(ends: Endpoints, family: Family, *, batch_size: int = 1000, rechecks: int = 3,
                  recheck_delay: float = 0.3, scanned: Sequence[str] | None = None) -> FamilyDiff:
    """Compare one family; differences are re-read `rechecks` times before they count.

    `scanned`: the family's Redis keys when the caller scanned already (scan_families), else scanned here.
    """
    diff = FamilyDiff(family.name)
    suspects: set[str] = set()
    seen: set[str] = set()
    batch: list[str] = []

    def run(keys: list[str]) -> None:
        only_redis, differing, undecodable, only_mysql = _compare_keys(ends, family, keys)
        suspects.update(only_redis, differing, undecodable, only_mysql)

    for key in scan_family(ends.redis, ends.keys.prefix, family) if scanned is None else scanned:
        if key in seen:   # SCAN may return a key twice while Redis resizes its table
            continue
        seen.add(key)
        batch.append(key)
        if len(batch) >= batch_size:
            run(batch)
            batch = []
    if batch:
        run(batch)
    diff.redis_count = len(seen)
    for keys in family.mysql_keys(ends.pool, batch_size):
        diff.mysql_count += len(keys)
        with redis_errors():
            pipe = ends.redis.pipeline(transaction=False)
            for key in keys:
                pipe.exists(ends.keys.prefix + key)
            found = pipe.execute()
        suspects.update(k for k, n in zip(keys, found) if not n)
    for _ in range(rechecks):
        if not suspects:
            break
        time.sleep(recheck_delay)
        keys = sorted(suspects)
        suspects.clear()
        for start in range(0, len(keys), batch_size):
            only_redis, differing, undecodable, only_mysql = _compare_keys(ends, family, keys[start:start + batch_size])
            suspects.update(only_redis, differing, undecodable, only_mysql)
    if suspects:
        keys = sorted(suspects)
        for start in range(0, len(keys), batch_size):
            only_redis, differing, undecodable, only_mysql = _compare_keys(ends, family, keys[start:start + batch_size])
            diff.only_redis += only_redis
            diff.differing.update(differing)
            diff.undecodable.update(undecodable)
            diff.only_mysql += only_mysql
    return diff


def verify(settings: Settings, *, families: str | None = None, batch_size: int = 1000,
           out: TextIO | None = None, rechecks: int = 3) -> list[FamilyDiff]:
    """Compare the selected families and print a diff summary to `out` (stdout)."""
    stream = out or sys.stdout
    chosen = registry.select(families)
    with Endpoints(settings) as ends:
        ends.require_tables(chosen)
        found = scan_families(ends.redis, ends.keys.prefix, chosen)   # one walk of the keyspace for all
        diffs = [verify_family(ends, f, batch_size=batch_size, rechecks=rechecks, scanned=keys)
                 for f, keys in zip(chosen, found)]
    print(render(diffs, settings), file=stream)
    return diffs


def render(diffs: list[FamilyDiff], settings: Settings) -> str:
    """The diff summary; keys are shown as their family's label() (session tokens redacted)."""
    rows = [[d.name, d.redis_count, d.mysql_count, len(d.only_redis), len(d.only_mysql), len(d.differing),
             len(d.undecodable), "ok" if d.clean else "DIFFERENT"] for d in diffs]
    lines = [f"verify: Redis prefix {settings.redis_key_prefix!r} vs MySQL database {settings.mysql_database}",
             table(["family", "redis", "mysql", "only redis", "only mysql", "differing", "undecodable", "result"],
                   rows)]
    for d in diffs:
        family = registry.FAMILIES.get(d.name)
        shown = family.label if family is not None else str
        for label, keys in (("only in Redis", d.only_redis), ("only in MySQL", d.only_mysql)):
            for key in sorted(keys)[:EXAMPLES_SHOWN]:
                lines.append(f"  {d.name}: {label}: {shown(key)}")
        by_field: dict[str, int] = {}
        for fields in d.differing.values():
            for name in fields:
                by_field[name] = by_field.get(name, 0) + 1
        if by_field:
            lines.append(f"  {d.name}: differing fields: "
                         + ", ".join(f"{n} ({c})" for n, c in sorted(by_field.items(), key=lambda x: -x[1])))
        for key in sorted(d.differing)[:EXAMPLES_SHOWN]:
            lines.append(f"  {d.name}: differs: {shown(key)}: {', '.join(d.differing[key])}")
        for key in sorted(d.undecodable)[:EXAMPLES_SHOWN]:
            lines.append(f"  {d.name}: undecodable: {d.undecodable[key]}")
    clean = all(d.clean for d in diffs)
    lines.append("verify: CLEAN" if clean else "verify: DIFFERENCES FOUND")
    return "\n".join(lines)



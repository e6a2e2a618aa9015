"""`relaystore migrate mysql-to-redis`: the rollback, writing upstream's layout back from MySQL.

Each family's write_redis() reuses its Redis DAO's own layout code, so the keys, derived lookups
and indexes are exactly what the DAO (and the upstream relay) would have written; TTLs are
recomputed from what MySQL stores (an API key's hash gets the 365 days every upstream write
re-arms). The target keyspace must be empty unless --force: writing over a live keyspace would
mix two states.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from ..config import Settings
from ..errors import Conflict
from ..redis.client import redis_errors
from . import families as registry
from .redis_reader import scan_all
from .report import Progress, RunLog, default_log_path, table
from .run import Endpoints


@dataclass
class RollbackSummary:
    name: str
    read: int = 0
    written: int = 0
    seconds: float = 0.0


def target_is_empty(ends: Endpoints) -> bool:
    """True when no key at all sits under the Redis prefix."""
    for _ in scan_all(ends.redis, ends.keys.prefix, count=1000):
        return False
    return True


def mysql_to_redis(settings: Settings, *, families: str | None = None, batch_size: int = 1000,
                   dry_run: bool = False, force: bool = False, log_path: str | None = None,
                   progress: bool = True, stderr: TextIO | None = None) -> list[RollbackSummary]:
    """Write the selected families from MySQL into Redis in upstream's layout; a summary on stderr."""
    err = stderr or sys.stderr
    chosen = registry.select(families)
    path = log_path or default_log_path()
    log = RunLog(path)
    bar = Progress(progress, err)
    out: list[RollbackSummary] = []
    with Endpoints(settings) as ends:
        ends.require_tables(chosen)
        if not force and not dry_run and not target_is_empty(ends):
            raise Conflict(f"Redis keyspace {settings.redis_key_prefix!r} (db {settings.redis_db}) is not empty; "
                           "roll back into an empty one, or pass --force to write over it")
        print(f"relaystore migrate mysql-to-redis{' (dry run: nothing is written)' if dry_run else ''}: "
              f"MySQL database {settings.mysql_database} -> Redis prefix {settings.redis_key_prefix!r}; log {path}",
              file=err)
        log.write("start", command="mysql-to-redis", dry_run=dry_run, families=[f.name for f in chosen],
                  redis_prefix=settings.redis_key_prefix, mysql_database=settings.mysql_database)
        for family in chosen:
            summary = RollbackSummary(family.name)
            out.append(summary)
            started = time.monotonic()
            bar.start(family.name)
            for keys in family.mysql_keys(ends.pool, batch_size):
                records = family.read_mysql(ends.pool, keys)
                summary.read += len(records)
                if not dry_run:
                    with redis_errors():
                        pipe = ends.redis.pipeline(transaction=False)
                        family.write_redis(pipe, ends.keys, list(records.values()))
                        pipe.execute()
                summary.written += len(records)   # dry run: would write
                log.write("batch", family=family.name, read=len(records), written=len(records), dry_run=dry_run)
                bar.update(summary.read)
            summary.seconds = time.monotonic() - started
            bar.finish(summary.read)
            log.write("summary", family=family.name, read=summary.read, written=summary.written,
                      seconds=round(summary.seconds, 3))
        log.write("end", exit_code=0)
    log.close()
    rows = [[s.name, s.read, s.written, f"{s.seconds:.2f}"] for s in out]
    print(table(["family", "read", "would write" if dry_run else "written", "seconds"], rows), file=err)
    print("DRY RUN, nothing written; OK" if dry_run else "OK", file=err)
    return out

"""`relaystore migrate redis-to-mysql`: per family, scan -> decode/validate -> write in batches.

Idempotent and resumable by construction: every write is an absolute upsert of what Redis holds
(counters included), one transaction per batch, so a re-run after a crash or a kill at any
point simply copies everything again and ends with the same MySQL content. Run again while the
relay writes in dual mode, it is the catch-up pass (MYSQL_MIGRATION.md).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, TextIO

from ..config import Settings
from ..errors import ConfigError, InvalidInput
from ..mysql.pool import MySQLPool
from ..redis.client import make_client, redis_errors
from ..redis.keys import Keys
from . import families as registry
from .family import Family
from .report import Progress, RunLog, default_log_path, table
from .redis_reader import scan_family
from .sync import ON_ERROR, Copier, CopyResult

KILL_STAGES = ("read", "written", "committed")
MAX_ERRORS_SHOWN = 20


@dataclass
class Options:
    families: str | None = None
    batch_size: int = 1000
    dry_run: bool = False
    on_error: str = "skip"
    delete_missing: bool = False
    log_path: str | None = None
    progress: bool = True
    kill_at: tuple[int, str] | None = None   # test hook: SIGKILL self at (batch number, stage)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("--batch-size must be at least 1")
        if self.on_error not in ON_ERROR:
            raise InvalidInput(f"--on-error must be one of {', '.join(ON_ERROR)}")
        if self.kill_at is not None and self.kill_at[1] not in KILL_STAGES:
            raise InvalidInput(f"kill stage must be one of {', '.join(KILL_STAGES)}")


@dataclass
class FamilySummary:
    name: str
    batches: int = 0
    seconds: float = 0.0
    totals: CopyResult = field(default_factory=CopyResult)


@dataclass
class RunSummary:
    families: list[FamilySummary]
    dry_run: bool
    stopped: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every key was copied; 1 when anything was skipped or failed, or the run stopped."""
        bad = any(f.totals.skipped or f.totals.failed for f in self.families)
        return 1 if bad or self.stopped else 0


class Endpoints:
    """Both servers for one migration command: Redis client + key builder, MySQL pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.redis_key_prefix)
        self.redis = make_client(settings)
        try:
            self.pool = MySQLPool(settings)
        except BaseException:
            self.redis.close()
            raise

    def require_tables(self, families: Iterable[Family], extra: Iterable[str] = ()) -> None:
        """ConfigError unless db init created every table these families need."""
        have = {next(iter(r.values())) for r in self.pool.fetchall("SHOW TABLES")}
        need = {t for f in families for t in f.tables} | set(extra)
        missing = sorted(need - have)
        if missing:
            raise ConfigError(f"MySQL database {self.settings.mysql_database} lacks tables "
                              f"{', '.join(missing)}: run `relaystore db init` first")

    def close(self) -> None:
        self.pool.close()
        self.redis.close()

    def __enter__(self) -> "Endpoints":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stop(Exception):
    """--on-error=stop met a bad value."""


def migrate_redis_to_mysql(settings: Settings, options: Options, *, stderr: TextIO | None = None) -> RunSummary:
    """Copy the selected families from Redis into MySQL; summaries on stderr, details in the log."""
    err = stderr or sys.stderr
    chosen = registry.select(options.families)
    log_path = options.log_path or default_log_path()
    log = RunLog(log_path)
    progress = Progress(options.progress, err)
    summary = RunSummary([], options.dry_run)
    batch_no = 0
    with Endpoints(settings) as ends:
        ends.require_tables(chosen, ["migration_sync"])
        copier = Copier(ends.redis, ends.keys, ends.pool)
        if options.kill_at is not None:
            def hook(stage: str) -> None:
                if (batch_no, stage) == options.kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            copier.hook = hook
        log.write("start", command="redis-to-mysql", dry_run=options.dry_run, batch_size=options.batch_size,
                  on_error=options.on_error, families=[f.name for f in chosen],
                  redis_prefix=settings.redis_key_prefix, mysql_database=settings.mysql_database)
        print(f"relaystore migrate redis-to-mysql{' (dry run: nothing is written)' if options.dry_run else ''}: "
              f"Redis prefix {settings.redis_key_prefix!r} -> MySQL database {settings.mysql_database}; "
              f"log {log_path}", file=err)
        try:
            for family in chosen:
                fam = FamilySummary(family.name)
                summary.families.append(fam)
                started = time.monotonic()
                progress.start(family.name)
                shown = 0

                def run_batch(keys: list[str]) -> None:
                    nonlocal batch_no, shown
                    batch_no += 1
                    t0 = time.monotonic()
                    res = copier.copy(family, keys, dry_run=options.dry_run, on_error=options.on_error)
                    fam.batches += 1
                    fam.totals.add(res)
                    log.write("batch", family=family.name, batch=fam.batches, keys=len(keys), read=res.read,
                              written=res.written, gone=res.gone, stale=res.stale, skipped=res.skipped,
                              failed=res.failed, seq=res.seq, ms=round((time.monotonic() - t0) * 1000, 1))
                    for key, message in res.errors:
                        log.write("error", family=family.name, key=key, error=message)
                        if shown < MAX_ERRORS_SHOWN:
                            progress.finish(fam.totals.read)
                            print(f"relaystore: {family.name}: {message}", file=err)
                        shown += 1
                    progress.update(fam.totals.read + fam.totals.gone + fam.totals.skipped)
                    if res.errors and options.on_error == "stop":
                        raise _Stop

                pending: dict[str, None] = {}
                for key in scan_family(ends.redis, ends.keys.prefix, family, count=options.batch_size):
                    pending[key] = None
                    if len(pending) >= options.batch_size:
                        run_batch(list(pending))
                        pending.clear()
                if pending:
                    run_batch(list(pending))
                if options.delete_missing:
                    for keys in _missing_in_redis(ends, family, options.batch_size):
                        run_batch(keys)
                fam.seconds = time.monotonic() - started
                progress.finish(fam.totals.read + fam.totals.gone + fam.totals.skipped)
                if shown > MAX_ERRORS_SHOWN:
                    print(f"relaystore: {family.name}: {shown - MAX_ERRORS_SHOWN} more errors in {log_path}",
                          file=err)
                log.write("summary", family=family.name, **_counts(fam), seconds=round(fam.seconds, 3))
        except _Stop:
            summary.stopped = True
            fam.seconds = time.monotonic() - started
            log.write("summary", family=fam.name, **_counts(fam), seconds=round(fam.seconds, 3))
            print("relaystore: stopped at the first bad value (--on-error=stop); nothing after it was written",
                  file=err)
        log.write("end", exit_code=summary.exit_code, stopped=summary.stopped)
    log.close()
    print(render_summary(summary), file=err)
    return summary


def _missing_in_redis(ends: Endpoints, family: Family, batch_size: int) -> Iterable[list[str]]:
    """Keys of MySQL records whose Redis key is gone (catch-up with --delete-missing)."""
    for keys in family.mysql_keys(ends.pool, batch_size):
        with redis_errors():
            pipe = ends.redis.pipeline(transaction=False)
            for key in keys:
                pipe.exists(ends.keys.prefix + key)
            found = pipe.execute()
        missing = [k for k, n in zip(keys, found) if not n]
        if missing:
            yield missing


def _counts(fam: FamilySummary) -> dict[str, Any]:
    t = fam.totals
    return {"batches": fam.batches, "read": t.read, "written": t.written, "gone": t.gone, "stale": t.stale,
            "skipped": t.skipped, "failed": t.failed}


def render_summary(summary: RunSummary) -> str:
    """The per-family summary table printed at the end of a run."""
    verb = "would write" if summary.dry_run else "written"
    rows = []
    for fam in summary.families:
        t = fam.totals
        rate = f"{(t.read + t.gone) / fam.seconds:,.0f}" if fam.seconds > 0 else "-"
        rows.append([fam.name, t.read, t.written, t.gone, t.stale, t.skipped, t.failed, f"{fam.seconds:.2f}", rate])
    text = table(["family", "read", verb, "gone", "stale", "skipped", "failed", "seconds", "keys/s"], rows)
    state = "DRY RUN, nothing written; " if summary.dry_run else ""
    verdict = ("OK" if summary.exit_code == 0 else
               "STOPPED" if summary.stopped else "INCOMPLETE: some keys were skipped or failed (see the log)")
    return f"{text}\n{state}{verdict}"

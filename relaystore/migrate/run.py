"""`relaystore migrate redis-to-mysql`: per family, scan -> decode/validate -> write in batches.

Idempotent and resumable by construction: every write is an absolute upsert of what Redis holds
(counters included), one transaction per batch, so a re-run after a crash or a kill at any
point simply copies everything again and ends with the same MySQL content. Run again while the
relay writes in dual mode, it is the catch-up pass (MYSQL_MIGRATION.md).
"""
from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, TextIO

from ..config import Settings
from ..errors import ConfigError, InvalidInput
from ..mysql.pool import MySQLPool
from ..redis.client import make_client, redis_errors
from ..redis.keys import Keys
from . import families as registry
from .family import Family
from .redis_reader import scan_families
from .report import Progress, RunLog, default_log_path, table
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
    workers: int = 1
    kill_at: tuple[int, str] | None = None   # test hook: SIGKILL self at (batch number, stage)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("--batch-size must be at least 1")
        if self.workers < 1:
            raise InvalidInput("--workers must be at least 1")
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

    def __enter__(self) -> Endpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Dispatcher:
    """Runs batch copies in this process, or in `workers` worker processes (results come back here).

    Worker processes are spawned (never forked: a fork would share this process's sockets) and
    each opens its own connections. They exit on their own if this process dies, so a killed run
    leaves nothing behind; at most the batches they were writing commit or roll back.
    """

    def __init__(self, settings: Settings, options: Options, copier: Copier,
                 handle: Callable[[Family, int, int, CopyResult, float], None]) -> None:
        self.options = options
        self.copier = copier
        self.handle = handle
        self.inflight: dict[Any, tuple[Family, int, int, float]] = {}
        self.executor: ProcessPoolExecutor | None = None
        self.starting: list[Any] = []
        if options.workers > 1:
            self.executor = ProcessPoolExecutor(max_workers=options.workers, mp_context=get_context("spawn"),
                                                initializer=_worker_init,
                                                initargs=(settings, options.kill_at, os.getpid()))
            # Start every worker now (they boot while this process scans the keyspace); ready()
            # waits for them: connection errors surface before the first batch, and the
            # per-family timings measure copying, not interpreter start-up.
            self.starting = [self.executor.submit(_worker_ready) for _ in range(options.workers)]

    def ready(self) -> None:
        """Wait until every worker process has started and connected."""
        if self.executor is not None:
            for future in self.starting:
                future.result()

    def submit(self, family: Family, keys: list[str], batch_no: int) -> None:
        started = time.monotonic()
        if self.executor is None:
            _WORKER["batch"] = batch_no
            res = self.copier.copy(family, keys, dry_run=self.options.dry_run, on_error=self.options.on_error)
            self.handle(family, batch_no, len(keys), res, time.monotonic() - started)
            return
        while len(self.inflight) >= 2 * self.options.workers:
            self._wait(FIRST_COMPLETED)
        future = self.executor.submit(_worker_copy, family.name, keys, batch_no, self.options.dry_run,
                                      self.options.on_error)
        self.inflight[future] = (family, batch_no, len(keys), started)

    def _wait(self, how: str) -> None:
        done, _ = wait(list(self.inflight), return_when=how)
        for future in sorted(done, key=lambda f: self.inflight[f][1]):
            family, batch_no, count, started = self.inflight.pop(future)
            self.handle(family, batch_no, count, future.result(), time.monotonic() - started)

    def drain(self) -> None:
        """Wait for every batch handed out."""
        while self.inflight:
            self._wait(FIRST_COMPLETED)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


# Worker-process state (also the in-process batch number the kill hook looks at).
_WORKER: dict[str, Any] = {"batch": 0}


def _kill_hook(kill_at: tuple[int, str], *, parent: bool) -> Callable[[str], None]:
    def hook(stage: str) -> None:
        if (_WORKER["batch"], stage) == kill_at:
            if parent:
                os.kill(os.getppid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
    return hook


def _worker_init(settings: Settings, kill_at: tuple[int, str] | None, parent: int) -> None:
    """Connect; exit when the run (process `parent`) is gone, even if it died before this worker started."""

    def watch_parent() -> None:   # a worker whose run was killed must not linger
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()
    ends = Endpoints(settings)
    copier = Copier(ends.redis, ends.keys, ends.pool)
    if kill_at is not None:
        copier.hook = _kill_hook(kill_at, parent=True)
    _WORKER.update(ends=ends, copier=copier)


def _worker_ready() -> int:
    time.sleep(0.05)   # hold this worker so the others take the other start-up calls
    return os.getpid()


def _worker_copy(family_name: str, keys: list[str], batch_no: int, dry_run: bool, on_error: str) -> CopyResult:
    _WORKER["batch"] = batch_no
    result: CopyResult = _WORKER["copier"].copy(registry.FAMILIES[family_name], keys, dry_run=dry_run,
                                                on_error=on_error)
    return result


def migrate_redis_to_mysql(settings: Settings, options: Options, *, stderr: TextIO | None = None) -> RunSummary:
    """Copy the selected families from Redis into MySQL; summaries on stderr, details in the log."""
    err = stderr or sys.stderr
    chosen = registry.select(options.families)
    log_path = options.log_path or default_log_path()
    log = RunLog(log_path)
    progress = Progress(options.progress, err)
    summary = RunSummary([], options.dry_run)
    by_name: dict[str, FamilySummary] = {}
    shown = {"errors": 0}
    scanned: dict[str, Any] = {}

    # Per family: batches handed out and not yet handled, whether all are handed out, when it began.
    pending: dict[str, int] = {}
    submitted: set[str] = set()
    began: dict[str, float] = {}

    def finish_family(family: Family) -> None:
        """Called once a family's last batch is handled: its timing, progress line and log summary."""
        fam = by_name[family.name]
        fam.seconds = time.monotonic() - began[family.name]
        if progress.label == family.name:
            progress.finish(fam.totals.read + fam.totals.gone + fam.totals.skipped)
        log.write("summary", family=family.name, **_counts(fam), seconds=round(fam.seconds, 3))

    def handle(family: Family, batch_no: int, count: int, res: CopyResult, seconds: float) -> None:
        fam = by_name[family.name]
        fam.batches += 1
        fam.totals.add(res)
        log.write("batch", family=family.name, batch=batch_no, keys=count, read=res.read, written=res.written,
                  gone=res.gone, stale=res.stale, skipped=res.skipped, failed=res.failed, seq=res.seq,
                  ms=round(seconds * 1000, 1))
        for key, message in res.errors:
            log.write("error", family=family.name, key=key, error=message)
            if shown["errors"] < MAX_ERRORS_SHOWN:
                progress.finish(fam.totals.read)
                print(f"relaystore: {family.name}: {message}", file=err)
            shown["errors"] += 1
        if progress.label == family.name:
            progress.update(fam.totals.read + fam.totals.gone + fam.totals.skipped)
        if res.errors and options.on_error == "stop":
            summary.stopped = True
        pending[family.name] -= 1
        if family.name in submitted and not pending[family.name]:
            finish_family(family)

    try:
        with Endpoints(settings) as ends:
            ends.require_tables(chosen, ["migration_sync"])
            copier = Copier(ends.redis, ends.keys, ends.pool)
            if options.kill_at is not None:
                copier.hook = _kill_hook(options.kill_at, parent=False)
            log.write("start", command="redis-to-mysql", dry_run=options.dry_run, batch_size=options.batch_size,
                      workers=options.workers, on_error=options.on_error, families=[f.name for f in chosen],
                      redis_prefix=settings.redis_key_prefix, mysql_database=settings.mysql_database)
            print(f"relaystore migrate redis-to-mysql{' (dry run: nothing is written)' if options.dry_run else ''}: "
                  f"Redis prefix {settings.redis_key_prefix!r} -> MySQL database {settings.mysql_database}; "
                  f"log {log_path}", file=err)
            dispatcher = _Dispatcher(settings, options, copier, handle)
            batch_no = 0
            try:
                # One SCAN pass finds every family's keys (see scan_families); batches are then handed
                # out family by family in registry order. With worker processes a family's batches may
                # start while the previous family's last ones are still being written, unless it reads
                # what an earlier family writes (registry.WAITS_FOR) or the run stops at the first bad
                # value: then every earlier batch is finished first.
                scanning = time.monotonic()
                found = scan_families(ends.redis, ends.keys.prefix, chosen)
                scanned.update(scan_keys=sum(len(keys) for keys in found),
                               scan_seconds=round(time.monotonic() - scanning, 3))
                dispatcher.ready()
                for index, family in enumerate(chosen):
                    if options.on_error == "stop" or registry.WAITS_FOR.get(family.name):
                        dispatcher.drain()
                    if summary.stopped:
                        break
                    fam = by_name[family.name] = FamilySummary(family.name)
                    summary.families.append(fam)
                    began[family.name] = time.monotonic()
                    pending[family.name] = 0
                    keys, found[index] = found[index], []
                    progress.start(family.name, len(keys))
                    batches = _batches(keys, options.batch_size)
                    if options.delete_missing:
                        batches = itertools.chain(batches, _missing_in_redis(ends, family, options.batch_size))
                    for batch in batches:
                        if summary.stopped:
                            break
                        batch_no += 1
                        pending[family.name] += 1
                        dispatcher.submit(family, batch, batch_no)
                    submitted.add(family.name)
                    if not pending[family.name]:
                        finish_family(family)
                dispatcher.drain()
                if summary.stopped:
                    print("relaystore: stopped at the first bad value (--on-error=stop); later batches were not "
                          "written", file=err)
            finally:
                dispatcher.close()
            if shown["errors"] > MAX_ERRORS_SHOWN:
                print(f"relaystore: {shown['errors'] - MAX_ERRORS_SHOWN} more errors in {log_path}", file=err)
            log.write("end", exit_code=summary.exit_code, stopped=summary.stopped, **scanned)
    finally:
        log.close()
    print(render_summary(summary), file=err)
    return summary


def _batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    """Keys in batches of `size` distinct names."""
    pending: dict[str, None] = {}
    for key in keys:
        pending[key] = None
        if len(pending) >= size:
            yield list(pending)
            pending = {}
    if pending:
        yield list(pending)


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

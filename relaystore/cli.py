"""The `relaystore` console command: db init/check/purge-expired, demo, migrate, verify, export, import, bench-*."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .config import Settings, load_settings
from .errors import InvalidInput, RelayStoreError


def _cmd_db_init(settings: Settings, args: argparse.Namespace) -> int:
    from .mysql.schema import init_database

    password = os.environ.get("MYSQL_APP_PASSWORD") if args.app_user else None
    report = init_database(settings, app_user=args.app_user, app_password=password)
    for line in report.lines():
        print(line)
    return 0


def _check_mysql(settings: Settings) -> list[str]:
    from .mysql.pool import MySQLPool

    pool = MySQLPool(settings)
    try:
        version = pool.fetchone("SELECT VERSION() AS v")["v"]
        schema = pool.fetchone("SELECT MAX(version) AS v FROM schema_version")["v"]
        state = pool.state()
    finally:
        pool.close()
    return [f"mysql: server {version} at {settings.mysql_host}:{settings.mysql_port}",
            f"mysql: database {settings.mysql_database}, schema version {schema}",
            f"mysql: pool max {state['max_connections']}, idle {state['idle']}, in use {state['in_use']}"]


def _check_redis(settings: Settings) -> list[str]:
    from .redis.client import make_client, redis_errors

    client = make_client(settings)
    try:
        with redis_errors():
            client.ping()
            info = client.info("server")
    finally:
        client.close()
    return [f"redis: PONG from Redis {info.get('redis_version')} "
            f"(key prefix {settings.redis_key_prefix!r})"]


def _cmd_db_check(settings: Settings, args: argparse.Namespace) -> int:
    """Report both servers; fail only if the selected backend (or its schema) is not usable."""
    failed = False
    for backend, check in (("mysql", _check_mysql), ("redis", _check_redis)):
        try:
            for line in check(settings):
                print(line)
        except RelayStoreError as exc:
            selected = settings.database_type in (backend, "dual")
            failed |= selected
            print(f"{backend}: {'FAILED' if selected else 'not reachable (not the selected backend)'}: {exc}")
    print(f"selected backend: {settings.database_type} ({'FAILED' if failed else 'ok'})")
    return 1 if failed else 0


def _cmd_db_purge_expired(settings: Settings, args: argparse.Namespace) -> int:
    """Delete expired session, sticky and request-detail rows (MySQL); safe to run at any time."""
    from .mysql.expiry import purge_expired
    from .mysql.pool import MySQLPool

    if settings.database_type != "mysql":
        print(f"nothing to purge: the {settings.database_type} backend expires entries itself")
        return 0
    pool = MySQLPool(settings)
    try:
        counts = purge_expired(pool, batch_size=args.batch_size)
    finally:
        pool.close()
    for table, n in counts.items():
        print(f"{table}: {'table missing (older schema), skipped' if n < 0 else f'{n} expired rows deleted'}")
    print(f"total: {sum(n for n in counts.values() if n > 0)} expired rows deleted")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Create a key, authenticate with it, show the result, then remove the key again."""
    from .store import Store

    with Store(settings) as store:
        key, raw = store.api_keys.create("relaystore demo key", tags=["demo"])
        shown = raw[:len(settings.api_key_prefix) + 6] + "..."
        print(f"[{store.backend}] created key {key.id} ({shown}; the full key is shown once, to its owner)")
        result = store.api_keys.authenticate(raw)
        print(f"[{store.backend}] authenticate -> ok={result.ok} reason={result.reason} "
              f"name={result.key.name if result.key else None!r}")
        wrong = store.api_keys.authenticate(settings.api_key_prefix + "0" * 64)
        print(f"[{store.backend}] authenticate(wrong key) -> ok={wrong.ok} reason={wrong.reason}")
        store.api_keys.delete(key.id)
        store.api_keys.purge(key.id)
        print(f"[{store.backend}] demo key removed")
        return 0 if result.ok and not wrong.ok else 1


def _cmd_bench_load(settings: Settings, args: argparse.Namespace) -> int:
    """Load the benchmark data set into a scratch MySQL database and/or Redis prefix (never the relay's own)."""
    from . import benchload
    from .mysql.schema import drop_database, init_database
    from .store import Store

    if args.keys < 1 or args.batch_size < 1:
        raise InvalidInput("--keys and --batch-size must be at least 1")
    data = benchload.DataSet(keys=args.keys, seed=args.seed, encryption_key=settings.encryption_key,
                             api_key_prefix=settings.api_key_prefix, timezone_offset=settings.timezone_offset)
    backends = ("mysql", "redis") if args.only is None else (args.only,)
    if args.drop:
        return _drop_bench_data(settings, args, backends)
    stores: list[Store] = []
    targets: list[benchload.MySQLTarget | benchload.RedisTarget] = []
    try:
        if "mysql" in backends:
            if args.mysql_database == settings.mysql_database:
                raise InvalidInput(f"--mysql-database {args.mysql_database} is MYSQL_DATABASE, the relay's own "
                                   "database; load benchmark data into a database of its own")
            if args.replace:
                drop_database(settings, args.mysql_database)
            init_database(settings, database=args.mysql_database)
            store = Store(replace(settings, database_type="mysql", mysql_database=args.mysql_database))
            stores.append(store)
            targets.append(benchload.MySQLTarget(store.pool))
        if "redis" in backends:
            if not args.redis_prefix:
                raise InvalidInput("--redis-prefix must not be empty: the empty prefix is the relay's own data")
            store = Store(replace(settings, database_type="redis", redis_key_prefix=args.redis_prefix))
            stores.append(store)
            if args.replace:
                benchload.clear_redis_prefix(store.redis, args.redis_prefix)
            targets.append(benchload.RedisTarget(store.redis, store.keys))
        where = {"mysql": f"MySQL database {args.mysql_database}", "redis": f"Redis prefix {args.redis_prefix!r}"}
        pending = []
        for target in targets:
            if benchload.is_loaded(data, target):
                print(f"{where[target.backend]}: already holds this data set ({args.keys:,} keys, seed {args.seed})")
            elif target.count("api_keys"):
                raise InvalidInput(f"{where[target.backend]} already holds other data; rerun with --replace")
            else:
                pending.append(target)
        if pending:
            report = benchload.load(data, pending, batch_size=args.batch_size,
                                    progress=None if args.quiet else benchload.Progress)
            for line in report.lines():
                print(line)
            print("loaded into " + ", ".join(where[t.backend] for t in pending))
    finally:
        for store in stores:
            store.close()
    return 0


def _drop_bench_data(settings: Settings, args: argparse.Namespace, backends: Sequence[str]) -> int:
    """Remove a loaded data set (the same guards as loading: never the relay's own data)."""
    from . import benchload
    from .mysql.schema import drop_database
    from .redis.client import make_client

    if "mysql" in backends:
        if args.mysql_database == settings.mysql_database:
            raise InvalidInput(f"--mysql-database {args.mysql_database} is MYSQL_DATABASE; refusing to drop it")
        drop_database(settings, args.mysql_database)
        print(f"dropped MySQL database {args.mysql_database}")
    if "redis" in backends:
        client = make_client(settings)
        try:
            removed = benchload.clear_redis_prefix(client, args.redis_prefix)
        finally:
            client.close()
        print(f"removed {removed:,} Redis keys under {args.redis_prefix!r}")
    return 0


def _cmd_bench_report(settings: Settings | None, args: argparse.Namespace) -> int:
    """Turn pytest-benchmark JSON into the Markdown + JSON target report; exit 1 when a target is missed."""
    from . import benchreport

    return benchreport.main(args.json_file, out_dir=args.out_dir, strict=args.strict)
def _cmd_migrate_to_mysql(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate.run import Options, migrate_redis_to_mysql

    options = Options(families=args.families, batch_size=args.batch_size, dry_run=args.dry_run,
                      on_error=args.on_error, delete_missing=args.delete_missing, log_path=args.log_file,
                      progress=not args.no_progress, workers=args.workers, kill_at=args.kill_at)
    return migrate_redis_to_mysql(settings, options).exit_code


def _cmd_migrate_to_redis(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate.rollback import mysql_to_redis

    mysql_to_redis(settings, families=args.families, batch_size=args.batch_size, dry_run=args.dry_run,
                   force=args.force, log_path=args.log_file, progress=not args.no_progress)
    return 0


def _cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate.verify import verify

    diffs = verify(settings, families=args.families, batch_size=args.batch_size)
    return 0 if all(d.clean for d in diffs) else 1


def _cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate import backup

    run = backup.export_redis if args.source == "redis" else backup.export_mysql
    if args.out == "-":
        counts = run(settings, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            counts = run(settings, out)
    where = (f"Redis prefix {settings.redis_key_prefix!r}" if args.source == "redis"
             else f"MySQL database {settings.mysql_database}")
    print(f"exported {sum(counts.values()):,} {'keys' if args.source == 'redis' else 'rows'} from {where}: "
          + ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items())), file=sys.stderr)
    return 0


def _cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from .migrate import backup

    run = backup.import_redis if args.target == "redis" else backup.import_mysql
    with (sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")) as source:
        counts = run(settings, source, force=args.force)
    where = (f"Redis prefix {settings.redis_key_prefix!r}" if args.target == "redis"
             else f"MySQL database {settings.mysql_database}")
    print(f"imported {sum(counts.values()):,} {'keys' if args.target == 'redis' else 'rows'} into {where}: "
          + ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items())), file=sys.stderr)
    return 0


def _kill_at(text: str) -> tuple[int, str]:
    batch, _, stage = text.partition(":")
    try:
        return int(batch), stage or "committed"
    except ValueError:
        raise argparse.ArgumentTypeError("expected BATCH[:read|written|committed]") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_migration_parsers(sub: Any) -> None:
    families = "comma-separated families (default: all; see MYSQL_MIGRATION.md)"
    migrate = sub.add_parser("migrate", help="copy data between Redis (upstream layout) and MySQL")
    msub = migrate.add_subparsers(dest="direction", required=True)
    to_mysql = msub.add_parser("redis-to-mysql", help="copy Redis into MySQL (idempotent; re-run = catch-up)")
    to_mysql.add_argument("--dry-run", action="store_true", help="read and validate everything, write nothing")
    to_mysql.add_argument("--batch-size", type=_positive, default=1000, help="keys per batch/transaction")
    to_mysql.add_argument("--families", help=families)
    to_mysql.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                          help="on a bad value: skip it and go on (counted, exit 1), or stop (exit 1)")
    to_mysql.add_argument("--delete-missing", action="store_true",
                          help="also delete MySQL records whose Redis key is gone (catch-up after a cutover)")
    to_mysql.add_argument("--log-file", help="JSON-lines log (default migration-<timestamp>.log)")
    to_mysql.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    to_mysql.add_argument("--workers", type=_positive, default=1,
                          help="copy batches in this many processes (2 uses both cores of a 2-core host)")
    to_mysql.add_argument("--kill-at", type=_kill_at, help=argparse.SUPPRESS)  # tests: SIGKILL self
    to_mysql.set_defaults(run=_cmd_migrate_to_mysql)
    to_redis = msub.add_parser("mysql-to-redis", help="rollback: write upstream's Redis layout from MySQL")
    to_redis.add_argument("--dry-run", action="store_true", help="read everything, write nothing")
    to_redis.add_argument("--batch-size", type=_positive, default=1000, help="records per pipeline")
    to_redis.add_argument("--families", help=families)
    to_redis.add_argument("--force", action="store_true", help="write even if the Redis keyspace is not empty")
    to_redis.add_argument("--log-file", help="JSON-lines log (default migration-<timestamp>.log)")
    to_redis.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    to_redis.set_defaults(run=_cmd_migrate_to_redis)
    verify = sub.add_parser("verify", help="compare Redis and MySQL record by record; exit 1 on any difference")
    verify.add_argument("--families", help=families)
    verify.add_argument("--batch-size", type=_positive, default=1000, help="keys per comparison batch")
    verify.set_defaults(run=_cmd_verify)
    export = sub.add_parser("export", help="logical backup as JSON lines (Redis keyspace or MySQL data)")
    export.add_argument("source", choices=("redis", "mysql"))
    export.add_argument("--out", required=True, help="file to write ('-' = stdout)")
    export.set_defaults(run=_cmd_export)
    restore = sub.add_parser("import", help="restore a JSON-lines backup into an empty target")
    restore.add_argument("target", choices=("redis", "mysql"))
    restore.add_argument("--in", dest="input", required=True, help="file to read ('-' = stdin)")
    restore.add_argument("--force", action="store_true", help="write even if the target is not empty")
    restore.set_defaults(run=_cmd_import)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relaystore", description=__doc__)
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.add_argument("--backend", choices=("redis", "mysql", "dual"), help="override DATABASE_TYPE")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    init = db.add_parser("init", help="create the MySQL database, apply schema.sql and seed.sql (idempotent)")
    init.add_argument("--app-user", help="also create this least-privilege user (password from MYSQL_APP_PASSWORD)")
    init.set_defaults(run=_cmd_db_init)
    db.add_parser("check", help="server versions, pool state, schema version, Redis ping").set_defaults(
        run=_cmd_db_check)
    purge = db.add_parser("purge-expired", help="delete expired rows of every expiring MySQL table, in batches")
    purge.add_argument("--batch-size", type=_positive_int, default=1000,
                       help="rows per DELETE (default 1000); each batch commits on its own")
    purge.set_defaults(run=_cmd_db_purge_expired)
    sub.add_parser("demo", help="create, authenticate and remove one API key").set_defaults(run=_cmd_demo)
    load = sub.add_parser("bench-load", help="load N benchmark API keys, accounts and 30 days of usage into a "
                                             "scratch database and Redis prefix")
    load.add_argument("--keys", type=int, default=100_000, help="API keys to generate (default 100,000)")
    load.add_argument("--seed", type=int, default=1, help="data set seed (same seed, same data)")
    load.add_argument("--batch-size", type=int, default=2_000, help="records per INSERT transaction / pipeline")
    load.add_argument("--only", choices=("mysql", "redis"), help="load one backend only (default both)")
    load.add_argument("--mysql-database", default="relaystore_bench", help="scratch database (default relaystore_bench)")
    load.add_argument("--redis-prefix", default="rs_bench:", help="scratch key prefix (default rs_bench:)")
    load.add_argument("--replace", action="store_true", help="drop the database / prefix's keys first")
    load.add_argument("--drop", action="store_true", help="only remove the database and the prefix's keys")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(run=_cmd_bench_load)
    report = sub.add_parser("bench-report", help="p50/p99/ops and target ratios from pytest-benchmark JSON")
    report.add_argument("json_file", help="the file written by pytest --benchmark-json")
    report.add_argument("--out-dir", help="also write report.md and report.json here")
    report.add_argument("--strict", action="store_true", help="a path that was not measured also fails")
    report.set_defaults(run=_cmd_bench_report, needs_settings=False)
    _add_migration_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not getattr(args, "needs_settings", True):
            return int(args.run(None, args))
        overrides = {"database_type": args.backend} if args.backend else {}
        settings = load_settings(args.env_file, **overrides)
        return int(args.run(settings, args))
    except RelayStoreError as exc:
        print(f"relaystore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("relaystore: interrupted; open transactions were rolled back. A migration can simply be run "
              "again.", file=sys.stderr)
        return 130
    except OSError as exc:  # a backup or log file that cannot be opened
        print(f"relaystore: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2

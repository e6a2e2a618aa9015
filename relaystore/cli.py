"""The `relaystore` console command: db init, db check, db purge-expired, demo (later: migrate, verify, export, ...)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .config import Settings, load_settings
from .errors import RelayStoreError


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
            selected = backend == settings.database_type
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relaystore", description=__doc__)
    parser.add_argument("--env-file", default=".env", help="settings file read under the environment (default .env)")
    parser.add_argument("--backend", choices=("redis", "mysql"), help="override DATABASE_TYPE")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = {"database_type": args.backend} if args.backend else {}
        settings = load_settings(args.env_file, **overrides)
        return int(args.run(settings, args))
    except RelayStoreError as exc:
        print(f"relaystore: error: {exc}", file=sys.stderr)
        return 2

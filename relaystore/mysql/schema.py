"""Create the database, apply schema.sql and seed.sql, and report what changed (db init, tests)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from ..config import Settings
from ..errors import ConfigError
from .pool import connect_args, translate

SQL_DIR = Path(os.environ.get("RELAYSTORE_SQL_DIR") or Path(__file__).resolve().parents[2] / "database" / "mysql")
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
_APP_USER = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def sql_statements(path: Path) -> list[str]:
    """Split a schema/seed file on ';' at line ends, dropping comment-only chunks."""
    text = path.read_text(encoding="utf-8")
    statements = []
    for chunk in _STATEMENT_END.split(text):
        body = "\n".join(line for line in chunk.splitlines() if not line.lstrip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements


def _quote_identifier(name: str) -> str:
    """Backtick-quote a database name that config validation already restricted to [A-Za-z0-9_$]."""
    if not re.fullmatch(r"[A-Za-z0-9_$]{1,64}", name):
        raise ConfigError(f"MYSQL_DATABASE {name!r} is not a plain database name")
    return f"`{name}`"


@dataclass
class InitReport:
    """What `db init` did; `changed` is False on a re-run that found everything in place."""

    database: str
    created_database: bool = False
    created_tables: list[str] = field(default_factory=list)
    seed_rows_changed: int = 0
    schema_version: int = 0
    app_user: str | None = None

    @property
    def changed(self) -> bool:
        return self.created_database or bool(self.created_tables) or self.seed_rows_changed > 0

    def lines(self) -> list[str]:
        if not self.changed:
            out = [f"nothing to do: database {self.database} is at schema version "
                   f"{self.schema_version} and its seed rows are in place"]
        else:
            out = []
            if self.created_database:
                out.append(f"created database {self.database}")
            if self.created_tables:
                out.append(f"created {len(self.created_tables)} tables: {', '.join(self.created_tables)}")
            out.append(f"seed: {self.seed_rows_changed} rows inserted or updated")
            out.append(f"schema version {self.schema_version}")
        if self.app_user:
            out.append(f"application user {self.app_user!r} has SELECT, INSERT, UPDATE, DELETE on {self.database}")
        return out


def _tables(cur: pymysql.cursors.Cursor) -> set[str]:
    cur.execute("SHOW TABLES")
    return {next(iter(row.values())) for row in cur.fetchall()}


def init_database(settings: Settings, *, database: str | None = None,
                  app_user: str | None = None, app_password: str | None = None,
                  sql_dir: Path = SQL_DIR) -> InitReport:
    """Create `database` if missing and bring it to schema.sql + seed.sql; safe to run any number of times."""
    name = settings.mysql_database if database is None else database
    quoted = _quote_identifier(name)
    report = InitReport(database=name)
    try:
        con = pymysql.connect(**connect_args(settings))
    except pymysql.err.MySQLError as exc:
        raise translate(exc) from exc
    try:
        with con.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {quoted} "
                            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                report.created_database = True
            cur.execute(f"USE {quoted}")
            cur.execute("SET time_zone = '+00:00'")
            before = _tables(cur)
            for statement in sql_statements(sql_dir / "schema.sql"):
                cur.execute(statement)
            report.created_tables = sorted(_tables(cur) - before)
            for statement in sql_statements(sql_dir / "seed.sql"):
                report.seed_rows_changed += cur.execute(statement)
            cur.execute("SELECT MAX(version) AS v FROM schema_version")
            report.schema_version = int(cur.fetchone()["v"] or 0)
            if app_user:
                _grant_app_user(cur, quoted, app_user, app_password or "")
                report.app_user = app_user
    except pymysql.err.MySQLError as exc:
        raise translate(exc) from exc
    finally:
        con.close()
    return report


def _grant_app_user(cur: pymysql.cursors.Cursor, quoted_db: str, user: str, password: str) -> None:
    """Create (if missing) a user limited to row access on this database; the password is bound, never logged."""
    if not _APP_USER.fullmatch(user):
        raise ConfigError(f"application user name {user!r} must be 1-32 letters, digits or _")
    if not password:
        raise ConfigError("MYSQL_APP_PASSWORD is required to create the application user")
    cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
    cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {quoted_db}.* TO %s@'%%'", (user,))


def drop_database(settings: Settings, database: str) -> None:
    """Drop a database (tests and scratch runs only)."""
    con = pymysql.connect(**connect_args(settings))
    try:
        with con.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_quote_identifier(database)}")
    finally:
        con.close()

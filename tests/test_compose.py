"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs where we test).

Structure is checked on the parsed YAML; the shell the containers would run (the init step, the
Redis command and healthcheck) is run here after the same variable interpolation compose does,
against the local MariaDB and Redis.
"""
from __future__ import annotations

import configparser
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml

from relaystore.mysql.pool import connect_args
from relaystore.mysql.schema import drop_database
from tests.conftest import TEST_ENCRYPTION_KEY, _require_server, base_settings
from tests.test_docs import _table_rows

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]

# `$$`, or `${NAME}` with an optional :- - :? ? :+ + modifier; any other `$` is a mistake.
_DOLLAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's variable substitution for the forms this file uses; raises on a bare `$`."""
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name is None:
            raise ValueError(f"bare $ in {value!r}: write $$ for the container's shell or ${{NAME}}")
        current = variables.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(current)
        if op in (":?", "?"):
            if unset_or_empty:
                raise ValueError(f"required variable {name} missing: {arg}")
            return str(current)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return current or ""
    return _DOLLAR.sub(substitute, value)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def test_redis_runs_by_default_and_mysql_with_init_only_under_the_mysql_profile() -> None:
    assert set(SERVICES) == {"redis", "mysql", "init"}
    assert "profiles" not in SERVICES["redis"]
    assert SERVICES["mysql"]["profiles"] == ["mysql"]
    assert SERVICES["init"]["profiles"] == ["mysql"]


def test_servers_have_healthchecks_and_restart_while_init_runs_once() -> None:
    for name in ("redis", "mysql"):
        check = SERVICES[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert SERVICES[name]["restart"] == "unless-stopped"
    assert SERVICES["mysql"]["healthcheck"]["test"][1:] == ["healthcheck.sh", "--connect", "--innodb_initialized"]
    assert SERVICES["mysql"]["image"].startswith("mariadb:10.11")
    assert SERVICES["init"]["restart"] == "no" and "healthcheck" not in SERVICES["init"]


def test_data_lives_in_named_volumes() -> None:
    assert {"mysql-data", "redis-data"} <= set(COMPOSE["volumes"])
    assert "mysql-data:/var/lib/mysql" in SERVICES["mysql"]["volumes"]
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]


def test_init_waits_for_a_healthy_mysql_and_runs_db_init_with_settings_from_env_file() -> None:
    init = SERVICES["init"]
    assert init["depends_on"] == {"mysql": {"condition": "service_healthy"}}
    assert init["env_file"] == ".env"
    assert "scripts/db_init.sh" in " ".join(init["command"])
    assert init["environment"]["MYSQL_HOST"] == "mysql" and init["environment"]["DATABASE_TYPE"] == "mysql"
    assert (ROOT / init["build"] / "Dockerfile").is_file()


def test_depends_on_targets_exist_and_are_active_under_the_same_profiles() -> None:
    for name, service in SERVICES.items():
        for target in service.get("depends_on", {}):
            assert target in SERVICES, f"{name} depends on unknown {target}"
            assert set(SERVICES[target].get("profiles", [])) <= set(service.get("profiles", [])), \
                f"{name} can start without {target}'s profile"


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def test_variables_are_documented_and_every_dollar_is_escaped_or_a_variable() -> None:
    documented = set(_table_rows("README.md"))
    used = set()
    for text in _strings(COMPOSE):
        interpolate(text, {})                                   # raises on a bare $
        used |= {m.group(1) for m in _DOLLAR.finditer(text) if m.group(1)}
    assert used >= {"MYSQL_ROOT_PASSWORD", "REDIS_PASSWORD"}
    assert used - documented == set(), "compose variables missing from README.md's tables"


def test_dockerfile_copies_existing_paths_and_points_db_init_at_the_sql() -> None:
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    copies = [words[1:-1] for words in lines if words[0] == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert not any(".env" in s for sources in copies for s in sources)
    env = [words[1] for words in lines if words[0] == "ENV"]
    assert "RELAYSTORE_SQL_DIR=/app/database/mysql" in env
    base = next(words[1] for words in lines if words[0] == "FROM")
    major, minor = map(int, re.match(r"python:(\d+)\.(\d+)", base).groups())
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    need = tuple(map(int, cfg["options"]["python_requires"].lstrip(">=").split(".")))
    assert (major, minor) >= need


def _init_run(dotenv: dict[str, str], database: str) -> subprocess.CompletedProcess[str]:
    """Run the init service's command here: its environment interpolated from `dotenv` (.env), host local."""
    init = SERVICES["init"]
    environment = {k: interpolate(str(v), dotenv) for k, v in init["environment"].items()}
    environment.update(MYSQL_HOST="127.0.0.1", MYSQL_DATABASE=database, ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
                       PYTHON=sys.executable)
    env = {**os.environ, **environment}
    argv = [interpolate(part, dotenv) for part in init["command"]]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_init_command_creates_the_database_as_root() -> None:
    _require_server(3306)
    database = f"relaystore_compose_{uuid.uuid4().hex[:8]}"
    try:
        done = _init_run({"MYSQL_USER": "root", "MYSQL_ROOT_PASSWORD": ""}, database)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"created database {database}" in done.stdout
        assert "application user" not in done.stdout
    finally:
        drop_database(base_settings(), database)


def test_init_command_creates_the_relay_user_when_mysql_user_is_not_root() -> None:
    _require_server(3306)
    tag = uuid.uuid4().hex[:8]
    database, user, password = f"relaystore_compose_{tag}", f"rs_compose_{tag}", secrets.token_hex(12)
    try:
        done = _init_run({"MYSQL_USER": user, "MYSQL_PASSWORD": password, "MYSQL_ROOT_PASSWORD": ""}, database)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"application user '{user}' has SELECT, INSERT, UPDATE, DELETE on {database}" in done.stdout
        assert password not in done.stdout + done.stderr
        con = pymysql.connect(**{**connect_args(base_settings(mysql_user=user, mysql_password=password)),
                                 "database": database})
        try:
            with con.cursor() as cur:
                cur.execute("SELECT COUNT(*) AS n FROM api_keys")
                assert cur.fetchone()["n"] == 0
        finally:
            con.close()
    finally:
        drop_database(base_settings(), database)
        admin = pymysql.connect(**connect_args(base_settings()))
        try:
            with admin.cursor() as cur:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        finally:
            admin.close()


def _redis_argv(password: str) -> list[str]:
    """The argv the Redis container's shell would exec, captured by printing instead of exec'ing."""
    command = SERVICES["redis"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = interpolate(command[2], {}).replace("exec redis-server", "printf '%s\\n' redis-server", 1)
    done = subprocess.run(["sh", "-c", script], env={**os.environ, "REDIS_PASSWORD": password},
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.splitlines()


def test_redis_command_sets_requirepass_only_when_a_password_is_given() -> None:
    assert "--requirepass" not in _redis_argv("")
    argv = _redis_argv("pass word")
    assert argv[argv.index("--requirepass") + 1] == "pass word"
    assert argv[argv.index("--appendonly") + 1] == "yes"


def test_redis_healthcheck_command_passes_against_a_running_redis() -> None:
    _require_server(6379)
    test = SERVICES["redis"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    done = subprocess.run(["sh", "-c", interpolate(test[1], {})], env={**os.environ, "REDIS_PASSWORD": ""},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_interpolation_check_rejects_a_bare_dollar_and_honours_defaults() -> None:
    assert interpolate("${A:-x} $${B} ${C:+on}", {"C": "1"}) == "x ${B} on"
    with pytest.raises(ValueError):
        interpolate("echo $HOME", {})

"""export/import: JSON-lines logical backups restore a Redis keyspace or MySQL data into an empty target."""
from __future__ import annotations

import io
import json

import pytest
import redis as redis_lib

from relaystore import Conflict, DataError
from relaystore.migrate import backup
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from tests.conftest import base_settings
from tests.migrate.conftest import assert_keyspaces_equal, keyspace, run_cli


def _other_types(client, prefix):
    client.rpush(prefix + "account:test_history:claude:a1", "r1", "r2", "r1")
    client.expire(prefix + "account:test_history:claude:a1", 3600)
    client.zadd(prefix + "concurrency:k1", {"req-1": 1.5e12, "req-2": 2.25})
    client.sadd(prefix + "account_groups", "g1", "g2")
    client.xadd(prefix + "billing:events", {"keyId": "k1", "cost": "0.5"}, id="1-1")
    client.xadd(prefix + "billing:events", {"keyId": "k2", "cost": "1"}, id="2-0")
    client.set(prefix + "sticky_session:abc", "acc-1", ex=600)


def test_redis_export_import_round_trip(settings, populated, client, make_prefix, tmp_path):
    populated(200)
    prefix = settings.redis_key_prefix
    _other_types(client, prefix)
    raw = redis_lib.Redis(host="127.0.0.1", port=6379)
    raw.set(prefix.encode() + b"bin:\xff\xfe", b"\x00\x80 not utf-8 \xc3")
    raw.hset(prefix.encode() + b"binhash", mapping={b"f\xff": b"v\xfe"})
    path = tmp_path / "redis.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        counts = backup.export_redis(settings, out)
    assert counts["hash"] >= 200 and counts["stream"] == 1 and counts["list"] == 1 and counts["zset"] >= 1
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "relaystore-redis-export"
    assert sum(1 for line in lines if '"encoding": "base64"' in line) == 2
    target = base_settings(redis_key_prefix=make_prefix())
    with open(path, encoding="utf-8") as source:
        assert backup.import_redis(target, source) == counts
    assert_keyspaces_equal(keyspace(client, prefix), keyspace(client, target.redis_key_prefix))
    tp = target.redis_key_prefix.encode()
    assert raw.get(tp + b"bin:\xff\xfe") == b"\x00\x80 not utf-8 \xc3"
    assert raw.hgetall(tp + b"binhash") == {b"f\xff": b"v\xfe"}
    assert raw.xrange(tp + b"billing:events") == raw.xrange(prefix.encode() + b"billing:events")
    raw.close()


def test_redis_import_refuses_a_non_empty_target_unless_forced(settings, client, tmp_path):
    client.set(settings.redis_key_prefix + "x", "1")
    out = io.StringIO()
    backup.export_redis(settings, out)
    with pytest.raises(Conflict, match="not empty"):
        backup.import_redis(settings, io.StringIO(out.getvalue()))
    client.set(settings.redis_key_prefix + "x", "2")
    assert backup.import_redis(settings, io.StringIO(out.getvalue()), force=True) == {"string": 1}
    assert client.get(settings.redis_key_prefix + "x") == "1"


def test_import_refuses_the_other_kind_of_backup(settings, make_prefix):
    out = io.StringIO()
    backup.export_mysql(settings, out)
    with pytest.raises(DataError, match="not a relaystore-redis-export"):
        backup.import_redis(base_settings(redis_key_prefix=make_prefix()), io.StringIO(out.getvalue()))


def _mysql_lines(settings):
    out = io.StringIO()
    backup.export_mysql(settings, out)
    return out.getvalue().splitlines()[1:]   # without the header (export time, database name)


def test_mysql_export_import_round_trip(settings, populated, make_database, tmp_path):
    populated(300)
    migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False), stderr=io.StringIO())
    exported = _mysql_lines(settings)
    rows = [json.loads(line) for line in exported if '"row"' in line]
    assert {r["table"] for r in rows} >= {"api_keys", "api_key_tags", "system_settings", "migration_sync",
                                            "schema_version"}
    sample = next(r["row"] for r in rows if r["table"] == "api_keys")
    assert len(sample["key_hash"]) == 64 and "T" in sample["created_at"]   # binary as hex, times ISO
    target = base_settings(mysql_database=make_database())
    path = tmp_path / "mysql.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        backup.export_mysql(settings, out)
    with open(path, encoding="utf-8") as source:
        counts = backup.import_mysql(target, source)
    assert counts["api_keys"] == sum(1 for r in rows if r["table"] == "api_keys")
    assert _mysql_lines(target) == exported
    with pytest.raises(Conflict, match="not empty"), open(path, encoding="utf-8") as source:
        backup.import_mysql(target, source)


def test_cli_export_and_import(settings, populated, make_prefix, client, tmp_path):
    populated(20)
    path = str(tmp_path / "r.jsonl")
    exported = run_cli(settings, "export", "redis", "--out", path)
    assert exported.returncode == 0 and "exported" in exported.stderr, exported.stderr
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    imported = run_cli(target, "import", "redis", "--in", path)
    assert imported.returncode == 0, imported.stderr
    assert_keyspaces_equal(keyspace(client, settings.redis_key_prefix), keyspace(client, target.redis_key_prefix))
    assert run_cli(target, "import", "redis", "--in", path).returncode == 2       # target no longer empty
    assert run_cli(target, "import", "redis", "--in", str(tmp_path / "missing.jsonl")).returncode == 2

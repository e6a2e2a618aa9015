"""API keys survive Redis -> MySQL -> Redis: verify is clean and the rolled-back keyspace equals the original."""
from __future__ import annotations

import io
import json

import pytest

from relaystore import Conflict
from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate.conftest import assert_keyspaces_equal, keyspace


def _migrate(settings, tmp_path, **options):
    return migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False, **options),
                                  stderr=io.StringIO())


def test_round_trip_verifies_clean_and_rolls_back_to_an_equal_keyspace(settings, populated, client, make_prefix,
                                                                         tmp_path):
    keys = populated(1200)
    original = keyspace(client, settings.redis_key_prefix)
    summary = _migrate(settings, tmp_path, batch_size=250)
    assert summary.exit_code == 0
    api = summary.families[0].totals
    assert (api.read, api.written, api.skipped, api.failed) == (len(keys), len(keys), 0, 0)
    out = io.StringIO()
    diffs = verify(settings, out=out)
    assert all(d.clean for d in diffs), out.getvalue()
    counts = {d.name: (d.redis_count, d.mysql_count) for d in diffs}
    assert {name: counts.pop(name) for name in ("api_keys", "system_settings")} == {
        "api_keys": (len(keys), len(keys)), "system_settings": (2, 2)}
    assert set(counts.values()) <= {(0, 0)}   # families this fill does not write
    with Store(base_settings(database_type="mysql", mysql_database=settings.mysql_database)) as mysql, \
            Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as redis:
        for key in keys[::7]:
            assert mysql.api_keys.get(key.id) == redis.api_keys.get(key.id)
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    assert_keyspaces_equal(original, keyspace(client, target.redis_key_prefix))


def test_rolled_back_keys_authenticate_through_the_redis_dao(settings, client, make_prefix, tmp_path):
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as source:
        live, raw_live = source.api_keys.create("live", tags=["a"])
        gone, raw_gone = source.api_keys.create("gone")
        source.api_keys.delete(gone.id)
    assert _migrate(settings, tmp_path).exit_code == 0
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    with Store(base_settings(database_type="redis", redis_key_prefix=target.redis_key_prefix)) as rolled:
        assert rolled.api_keys.authenticate(raw_live).key == live
        assert rolled.api_keys.authenticate(raw_gone).reason == "unknown"   # deleted: not in hash_map
        assert rolled.api_keys.list(tag="a").total == 1


def test_rollback_refuses_a_non_empty_keyspace_unless_forced(settings, populated, tmp_path):
    populated(5)
    assert _migrate(settings, tmp_path).exit_code == 0
    with pytest.raises(Conflict, match="not empty"):
        mysql_to_redis(settings, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    summary = mysql_to_redis(settings, force=True, log_path=str(tmp_path / "r.log"), progress=False,
                             stderr=io.StringIO())
    assert summary[0].written == 5


def test_rollback_dry_run_writes_nothing(settings, populated, client, make_prefix, tmp_path):
    keys = populated(20)
    assert _migrate(settings, tmp_path).exit_code == 0
    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    summary = mysql_to_redis(target, dry_run=True, log_path=str(tmp_path / "r.log"), progress=False,
                             stderr=io.StringIO())
    assert (summary[0].read, summary[0].written) == (len(keys), len(keys))   # would write
    assert keyspace(client, target.redis_key_prefix) == {}


def test_log_lines_are_json_and_name_no_secret(settings, populated, tmp_path):
    keys = populated(30)
    stderr = io.StringIO()
    migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), batch_size=10, progress=False),
                           stderr=stderr)
    lines = [json.loads(line) for line in (tmp_path / "m.log").read_text().splitlines()]
    assert [line["event"] for line in lines][:2] == ["start", "batch"] and lines[-1]["event"] == "end"
    batches = [line for line in lines if line["event"] == "batch" and line["family"] == "api_keys"]
    assert sum(line["written"] for line in batches) == len(keys)
    text = (tmp_path / "m.log").read_text() + stderr.getvalue()
    assert settings.encryption_key not in text

"""migrate redis-to-mysql: dry runs write nothing, re-runs change nothing, bad values are reported and counted."""
from __future__ import annotations

import io
import json
import uuid

import pymysql
import pytest

from relaystore.apikey_rules import hash_raw_key
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.sync import redact
from relaystore.migrate.verify import verify
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.migrate.conftest import SEQ_KEY, data_dump, run_cli


def _migrate(settings, tmp_path, **options):
    stderr = io.StringIO()
    summary = migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False,
                                                       **options), stderr=stderr)
    return summary, stderr.getvalue()


def _totals(summary, family="api_keys"):
    t = next(f for f in summary.families if f.name == family).totals
    return {"read": t.read, "written": t.written, "skipped": t.skipped, "failed": t.failed}


def test_dry_run_reports_what_it_would_write_and_writes_nothing(settings, populated, client, tmp_path):
    keys = populated(300)
    before = data_dump(settings, settings.mysql_database, ("api_keys", "api_key_tags", "system_settings",
                                                           "migration_sync"))
    summary, stderr = _migrate(settings, tmp_path, dry_run=True, batch_size=64)
    assert summary.exit_code == 0 and summary.dry_run
    assert _totals(summary) == {"read": len(keys), "written": len(keys), "skipped": 0, "failed": 0}
    assert "would write" in stderr and "DRY RUN" in stderr
    after = data_dump(settings, settings.mysql_database, ("api_keys", "api_key_tags", "system_settings",
                                                          "migration_sync"))
    assert after == before and after["api_keys"] == []
    assert client.exists(settings.redis_key_prefix + SEQ_KEY) == 0   # not even the copy sequence


def test_second_run_leaves_mysql_identical(settings, populated, tmp_path):
    keys = populated(400)
    first, _ = _migrate(settings, tmp_path, batch_size=100)
    dump = data_dump(settings, settings.mysql_database)
    second, _ = _migrate(settings, tmp_path, batch_size=37)
    assert first.exit_code == second.exit_code == 0
    assert _totals(second) == {"read": len(keys), "written": len(keys), "skipped": 0, "failed": 0}
    assert data_dump(settings, settings.mysql_database) == dump
    assert len(dump["api_keys"]) == len(keys)


def test_catch_up_copies_tags_removed_and_added_on_every_key_of_a_batch(settings, populated, client, tmp_path):
    """A re-run replaces each key's tag rows: tags changed in Redis since the first copy follow."""
    keys = [k for k in populated(60) if not k.is_deleted]
    _migrate(settings, tmp_path, batch_size=100)
    for key in keys:
        client.hset(f"{settings.redis_key_prefix}apikey:{key.id}", "tags", '["only-this"]')
    summary, _ = _migrate(settings, tmp_path, batch_size=100)
    assert summary.exit_code == 0
    tags = data_dump(settings, settings.mysql_database, ("api_key_tags",))["api_key_tags"]
    assert sorted(t for t in tags if t[1] in {k.id for k in keys}) == sorted(("only-this", k.id) for k in keys)
    assert all(d.clean for d in verify(settings, out=io.StringIO()))


def _bad_keys(client, prefix):
    """Upstream-shaped keys with one bad value each; returns {key: the bad value's text}."""
    def good(**fields):
        key_id = str(uuid.uuid4())
        data = {"id": key_id, "name": "bad", "apiKey": hash_raw_key("cr_" + uuid.uuid4().hex * 2, TEST_ENCRYPTION_KEY),
                "createdAt": "2025-07-30T01:02:03.456Z", "isActive": "true", "tags": "[]"}
        data.update(fields)
        data = {k: v for k, v in data.items() if v is not None}
        client.hset(f"{prefix}apikey:{key_id}", mapping=data)
        return f"apikey:{key_id}"
    bad = {
        good(tokenLimit="lots-of-tokens"): "lots-of-tokens",             # unparseable number
        good(tags="[not-json-at-all"): "[not-json-at-all",               # unparseable JSON
        good(tags='{"an": "object-not-a-list"}'): "object-not-a-list",   # JSON of the wrong type
        good(createdAt=None): None,                                      # missing required field
        good(apiKey="not-a-hash-value"): "not-a-hash-value",             # malformed key hash
        good(createdBy="c" * 65): "c" * 65,                              # too long for its column
        good(tags='["' + "t" * 200 + '"]'): "t" * 200,                    # a tag longer than its column
    }
    wrong_type = f"apikey:{uuid.uuid4()}"
    client.set(prefix + wrong_type, "a string where a hash belongs")     # wrong Redis type
    bad[wrong_type] = "a string where a hash belongs"
    return bad


def test_bad_values_are_skipped_reported_with_their_key_and_counted(settings, populated, client, tmp_path):
    keys = populated(120)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, batch_size=50, on_error="skip")
    assert summary.exit_code == 1 and not summary.stopped
    assert _totals(summary) == {"read": len(keys) + len(bad) - 1, "written": len(keys), "skipped": len(bad),
                                "failed": 0}
    log = [json.loads(line) for line in (tmp_path / "m.log").read_text().splitlines()]
    assert {line["key"] for line in log if line["event"] == "error"} == set(bad)
    for key in bad:
        assert key in stderr
    text = (tmp_path / "m.log").read_text() + stderr
    for value in bad.values():
        assert value is None or value not in text     # keys and field names are reported, values never
    assert "INCOMPLETE" in stderr
    assert data_dump(settings, settings.mysql_database)["api_keys"].__len__() == len(keys)


def test_stop_on_error_stops_with_non_zero_exit(settings, populated, client, tmp_path):
    populated(300)
    _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, batch_size=20, on_error="stop")
    assert summary.exit_code == 1 and summary.stopped
    totals = _totals(summary)
    assert totals["skipped"] >= 1 and totals["written"] < 300
    assert "stopped at the first bad value" in stderr
    assert [f.name for f in summary.families] == ["api_keys"]   # later families never started


def test_delete_missing_removes_records_whose_key_is_gone(settings, populated, client, tmp_path):
    keys = populated(30)
    assert _migrate(settings, tmp_path)[0].exit_code == 0
    client.delete(f"{settings.redis_key_prefix}apikey:{keys[0].id}")
    assert not verify(settings, out=io.StringIO(), rechecks=0)[0].clean
    plain, _ = _migrate(settings, tmp_path)
    assert _totals(plain)["written"] == len(keys) - 1
    assert len(data_dump(settings, settings.mysql_database)["api_keys"]) == len(keys)   # not removed by default
    catch_up, _ = _migrate(settings, tmp_path, delete_missing=True)
    assert catch_up.families[0].totals.gone == 1
    assert len(data_dump(settings, settings.mysql_database)["api_keys"]) == len(keys) - 1
    assert all(d.clean for d in verify(settings, out=io.StringIO()))


def test_cli_exit_codes_and_verify_diff_summary(settings, populated, tmp_path):
    keys = populated(40)
    log = str(tmp_path / "cli.log")
    dry = run_cli(settings, "migrate", "redis-to-mysql", "--dry-run", "--no-progress", "--log-file", log)
    assert dry.returncode == 0, dry.stderr
    assert run_cli(settings, "verify").returncode == 1                  # nothing copied yet
    done = run_cli(settings, "migrate", "redis-to-mysql", "--batch-size", "16", "--no-progress", "--log-file", log)
    assert done.returncode == 0, done.stderr
    clean = run_cli(settings, "verify", "--families", "api_keys")
    assert clean.returncode == 0 and "verify: CLEAN" in clean.stdout, clean.stdout
    con = pymysql.connect(host="127.0.0.1", user="root", database=settings.mysql_database, autocommit=True)
    with con.cursor() as cur:
        cur.execute("UPDATE api_keys SET name = 'changed in mysql', concurrency_limit = 99 WHERE id = %s",
                    (keys[0].id,))
    con.close()
    dirty = run_cli(settings, "verify")
    assert dirty.returncode == 1
    assert f"apikey:{keys[0].id}: name, concurrency_limit" in dirty.stdout and "DIFFERENCES FOUND" in dirty.stdout
    assert "changed in mysql" not in dirty.stdout
    unknown = run_cli(settings, "migrate", "redis-to-mysql", "--families", "nope", "--log-file", log)
    assert unknown.returncode == 2 and "unknown families: nope" in unknown.stderr


def test_bad_values_are_found_the_same_way_by_a_dry_run(settings, populated, client, tmp_path):
    keys = populated(60)
    bad = _bad_keys(client, settings.redis_key_prefix)
    summary, stderr = _migrate(settings, tmp_path, dry_run=True, batch_size=25)
    assert summary.exit_code == 1
    assert _totals(summary) == {"read": len(keys) + len(bad) - 1, "written": len(keys), "skipped": len(bad),
                                "failed": 0}
    assert "created_by" in stderr and "api_key_tags.tag" in stderr


def test_reports_never_quote_values():
    assert redact("apikey:x: field tokenLimit is not a number: 'sk-secret'") == \
        "apikey:x: field tokenLimit is not a number"
    assert redact("MySQL error 1366: Incorrect string value: '\\xC3\\xA9' for column `d`.`t`.`a` at row 1") == \
        "MySQL error 1366: Incorrect string value: <value> for column `d`.`t`.`a` at row 1"
    assert redact("duplicate key: Duplicate entry 'abc' for key 'uq_api_keys_key_hash'") == \
        "duplicate key: Duplicate entry <value> for key 'uq_api_keys_key_hash'"
    assert redact("MySQL error 1406: Data too long for column 'created_by' at row 1").endswith("'created_by' at row 1")


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--on-error", "ignore"]])
def test_cli_rejects_bad_options(settings, args):
    assert run_cli(settings, "migrate", "redis-to-mysql", *args).returncode == 2

"""The migration's MySQL reads use their indexes (EXPLAIN), so verify and rollback stay linear."""
from __future__ import annotations

import io

from relaystore.migrate.families.api_keys import SELECT_API_KEY_IDS_AFTER, SELECT_API_KEYS_BY_IDS
from relaystore.migrate.mysql_writer import SELECT_NEWER_MIGRATION_SYNCS, key_digest
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.mysql.api_keys import SELECT_API_KEY_IDS_BY_HASHES
from relaystore.mysql.pool import MySQLPool


def _plan(pool, sql, params):
    plan = pool.fetchall("EXPLAIN " + sql, params)
    assert len(plan) == 1, plan
    return plan[0]


def test_migration_reads_use_their_indexes(settings, populated, tmp_path):
    keys = populated(300)
    migrate_redis_to_mysql(settings, Options(log_path=str(tmp_path / "m.log"), progress=False), stderr=io.StringIO())
    pool = MySQLPool(settings)
    try:
        pool.fetchall("ANALYZE TABLE api_keys, migration_sync")   # fresh statistics: stable plans
        ids = [k.id for k in keys[:10]]   # a batch is a small share of a real table
        page = _plan(pool, SELECT_API_KEY_IDS_AFTER, {"after": ids[0], "limit": 100})
        assert page["key"] == "PRIMARY" and page["type"] in ("range", "index")
        by_ids = _plan(pool, SELECT_API_KEYS_BY_IDS.format(ids=", ".join(["%s"] * len(ids))), ids)
        assert by_ids["key"] == "PRIMARY" and by_ids["type"] == "range"
        hashes = [bytes.fromhex(k.key_hash) for k in keys[:10]]
        owners = _plan(pool, SELECT_API_KEY_IDS_BY_HASHES.format(hashes=", ".join(["%s"] * 10)), hashes)
        assert owners["key"] == "uq_api_keys_key_hash" and owners["type"] == "range"
        digests = [key_digest(f"apikey:{i}") for i in ids]
        newer = _plan(pool, SELECT_NEWER_MIGRATION_SYNCS.format(digests=", ".join(["%s"] * 10)), [*digests, 1])
        assert newer["key"] == "PRIMARY" and newer["type"] == "range"
    finally:
        pool.close()

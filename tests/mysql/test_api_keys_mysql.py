"""MySQL-only checks of the API-key path: index use, one query per call, scale."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest

from relaystore import DataError
from relaystore.apikey_rules import hash_raw_key
from relaystore.mysql.api_keys import COLUMNS, SELECT_API_KEY_BY_HASH, to_row
from relaystore.records import ApiKey
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.conftest import base_settings


def _questions(store: Store) -> int:
    return int(store.pool.fetchone("SHOW SESSION STATUS LIKE 'Questions'")["Value"])


def test_auth_query_uses_unique_hash_index(mysql_store):
    _, raw = mysql_store.api_keys.create("explain me")
    key_hash = bytes.fromhex(hash_raw_key(raw, base_settings().encryption_key))
    plan = mysql_store.pool.fetchall("EXPLAIN " + SELECT_API_KEY_BY_HASH, {"key_hash": key_hash})
    assert len(plan) == 1
    assert plan[0]["key"] == "uq_api_keys_key_hash" and plan[0]["type"] == "const"


def test_authenticate_is_one_round_trip(mysql_database):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        _, raw = store.api_keys.create("one trip")
        before = _questions(store)
        assert store.api_keys.authenticate(raw).ok
        assert _questions(store) - before == 2  # the auth SELECT plus this SHOW STATUS
    finally:
        store.close()


def _bulk_load(store: Store, n: int) -> None:
    """Insert n keys with one multi-row INSERT per 5,000 rows (PyMySQL rewrites executemany)."""
    now = utcnow()
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO api_keys ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    rows = []
    for i in range(n):
        key = ApiKey(id=str(uuid.uuid4()), name=f"tenant {i % 997} key {i}", key_hash=uuid.uuid4().hex * 2,
                     created_at=now - timedelta(seconds=i), is_active=i % 3 != 0)
        row = to_row(key)
        rows.append(tuple(row[c] for c in COLUMNS))
    with store.pool.cursor() as cur:
        for start in range(0, n, 5000):
            cur.executemany(sql, rows[start:start + 5000])


def test_list_page_with_name_filter_over_100k_keys_is_one_query(mysql_database):
    store = Store(base_settings(database_type="mysql", mysql_database=mysql_database, mysql_pool_size=1))
    try:
        _bulk_load(store, 100_000)
        before = _questions(store)
        started = time.perf_counter()
        page = store.api_keys.list(search="tenant 42 ", page=2, page_size=50)
        elapsed = time.perf_counter() - started
        assert _questions(store) - before == 2  # the list query plus this SHOW STATUS
        assert len(page.items) == 50
        assert page.total == len([i for i in range(100_000) if i % 997 == 42])
        assert all("tenant 42 " in k.name for k in page.items)
        created = [k.created_at for k in page.items]
        assert created == sorted(created, reverse=True)
        print(f"\nlist(search=..., page=2) over 100,000 keys: {elapsed * 1000:.1f} ms, one query")
    finally:
        store.close()


def test_bad_json_in_row_is_reported_with_its_row(mysql_store):
    key, _ = mysql_store.api_keys.create("broken")
    mysql_store.pool.fetchone("UPDATE api_keys SET tags = %s WHERE id = %s", ("[oops", key.id))
    with pytest.raises(DataError, match=rf"api_keys row {key.id}: column tags"):
        mysql_store.api_keys.get(key.id)


def test_tags_are_indexed_rows(mysql_store):
    key, _ = mysql_store.api_keys.create("tagged", tags=["a", "b", "a"])
    rows = mysql_store.pool.fetchall("SELECT tag FROM api_key_tags WHERE api_key_id = %s ORDER BY tag", (key.id,))
    assert [r["tag"] for r in rows] == ["a", "b"]
    assert json.loads(mysql_store.pool.fetchone("SELECT tags FROM api_keys WHERE id = %s", (key.id,))["tags"]) \
        == ["a", "b", "a"]

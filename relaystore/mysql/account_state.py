"""Per-account side state on MySQL: account_state rows (one per upstream key) and account_test_results."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import account_state_rules as rules
from ..config import Settings
from ..jsnum import js_json, json_object
from ..records import AccountBalance
from ..timefmt import to_iso, utcnow
from ..ttl_rules import ms_time, ttl_ms
from .expiry import EXPIRES_AT, LIVE
from .pool import MySQLPool

SELECT_ACCOUNT_STATE = f"""
    SELECT value FROM account_state
    WHERE platform = %(platform)s AND account_id = %(account_id)s AND kind = %(kind)s AND {LIVE}
"""

# A write replaces the row whatever it held (Redis SET/HSET over an expired key); %(ttl_ms)s NULL = no TTL.
UPSERT_ACCOUNT_STATE = f"""
    INSERT INTO account_state (platform, account_id, kind, value, expires_at)
    VALUES (%(platform)s, %(account_id)s, %(kind)s, %(value)s, {EXPIRES_AT})
    ON DUPLICATE KEY UPDATE value = %(value)s, expires_at = {EXPIRES_AT}
"""

DELETE_ACCOUNT_STATE = f"""
    DELETE FROM account_state
    WHERE platform = %(platform)s AND account_id = %(account_id)s AND kind IN %(kinds)s AND {LIVE}
"""

INSERT_TEST_RESULT = f"""
    INSERT INTO account_test_results (platform, account_id, result, expires_at)
    VALUES (%(platform)s, %(account_id)s, %(result)s, {EXPIRES_AT})
"""

# LTRIM + EXPIRE: re-arm the kept rows, then drop everything older than the newest five.
REARM_TEST_RESULTS = f"""
    UPDATE account_test_results SET expires_at = {EXPIRES_AT}
    WHERE platform = %(platform)s AND account_id = %(account_id)s AND {LIVE}
"""
SELECT_TEST_RESULT_IDS = """
    SELECT id FROM account_test_results WHERE platform = %(platform)s AND account_id = %(account_id)s
    ORDER BY id DESC
"""
DELETE_TEST_RESULTS_BY_ID = "DELETE FROM account_test_results WHERE id IN %(ids)s"

SELECT_TEST_RESULTS = f"""
    SELECT result FROM account_test_results
    WHERE platform = %(platform)s AND account_id = %(account_id)s AND {LIVE}
    ORDER BY id DESC LIMIT %(limit)s
"""

DELETE_TEST_RESULTS = """
    DELETE FROM account_test_results WHERE platform = %(platform)s AND account_id = %(account_id)s
"""



def hash_fields(text: str, label: str) -> dict[str, str]:
    """The fields of a Redis hash kept as a JSON object in account_state.value (DataError names `label`)."""
    return json_object(text, f"{label}: stored hash")


class MySQLAccountState:
    """store.account_state on MySQL."""

    def __init__(self, pool: MySQLPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    def _get(self, platform: str, account_id: str, kind: str) -> str | None:
        rules.check_account(platform, account_id)
        row = self._pool.fetchone(SELECT_ACCOUNT_STATE, {"platform": platform, "account_id": account_id,
                                                         "kind": kind})
        return None if row is None else str(row["value"])

    def _put(self, platform: str, account_id: str, kind: str, value: str, ms: int | None) -> None:
        with self._pool.cursor() as cur:
            cur.execute(UPSERT_ACCOUNT_STATE, {"platform": platform, "account_id": account_id, "kind": kind,
                                               "value": value, "ttl_ms": ms})

    def _delete(self, platform: str, account_id: str, *kinds: str) -> bool:
        rules.check_account(platform, account_id)
        with self._pool.cursor() as cur:
            return bool(cur.execute(DELETE_ACCOUNT_STATE, {"platform": platform, "account_id": account_id,
                                                           "kinds": kinds}))

    def get_balance(self, platform: str, account_id: str) -> AccountBalance | None:
        text = self._get(platform, account_id, "balance")
        if text is None:
            return None
        label = f"account_state row {platform}/{account_id}/balance"
        return rules.decode_balance(platform, account_id, hash_fields(text, label), label)

    def set_balance(self, platform: str, account_id: str, *, balance: float | None, currency: str = "USD",
                    last_refresh_at: datetime | None = None, query_method: str = "api", status: str = "success",
                    error_message: str = "", raw_data: Any = None, quota: Any = None,
                    ttl_seconds: float = rules.BALANCE_TTL_SECONDS) -> AccountBalance:
        ms = ttl_ms(ttl_seconds)
        record = rules.new_balance(platform, account_id, balance=balance, currency=currency,
                                   last_refresh_at=last_refresh_at, query_method=query_method, status=status,
                                   error_message=error_message, raw_data=raw_data, quota=quota, now=utcnow())
        self._put(platform, account_id, "balance", js_json(rules.encode_balance(record)), ms)
        return record

    def get_local_balance(self, platform: str, account_id: str) -> Any:
        text = self._get(platform, account_id, "balance_local")
        if text is None:
            return None
        return rules.decode_local(hash_fields(text, f"account_state row {platform}/{account_id}/balance_local"))

    def set_local_balance(self, platform: str, account_id: str, estimate: Any, *,
                          ttl_seconds: float = rules.LOCAL_BALANCE_TTL_SECONDS) -> None:
        rules.check_account(platform, account_id)
        ms = ttl_ms(ttl_seconds)
        self._put(platform, account_id, "balance_local", js_json(rules.encode_local(estimate, utcnow())), ms)

    def delete_balance(self, platform: str, account_id: str) -> bool:
        return self._delete(platform, account_id, "balance", "balance_local")

    def get_balance_script(self, platform: str, account_id: str) -> Any:
        text = self._get(platform, account_id, "balance_script")
        label = f"account_state row {platform}/{account_id}/balance_script"
        return None if not text else rules.decode_json_value(text, label)

    def set_balance_script(self, platform: str, account_id: str, config: Any) -> None:
        rules.check_account(platform, account_id)
        self._put(platform, account_id, "balance_script", rules.json_text(config if config else {}, "config"),
                  None)

    def delete_balance_script(self, platform: str, account_id: str) -> bool:
        return self._delete(platform, account_id, "balance_script")

    def add_test_result(self, platform: str, account_id: str, result: Any) -> None:
        """Insert, re-arm the account's rows for 30 days and keep the newest 5; one transaction."""
        rules.check_account(platform, account_id)
        text = result if isinstance(result, str) else rules.json_text(result, "result")
        params = {"platform": platform, "account_id": account_id, "result": text,
                  "ttl_ms": rules.TEST_HISTORY_TTL_SECONDS * 1000}

        def work(cur: Any) -> None:
            cur.execute(INSERT_TEST_RESULT, params)
            cur.execute(REARM_TEST_RESULTS, params)
            cur.execute(SELECT_TEST_RESULT_IDS, params)
            surplus = [row["id"] for row in cur.fetchall()][rules.TEST_HISTORY_KEEP:]
            if surplus:
                cur.execute(DELETE_TEST_RESULTS_BY_ID, {"ids": surplus})

        self._pool.run_transaction(work)

    def list_test_results(self, platform: str, account_id: str) -> list[Any]:
        rules.check_account(platform, account_id)
        rows = self._pool.fetchall(SELECT_TEST_RESULTS, {"platform": platform, "account_id": account_id,
                                                         "limit": rules.TEST_HISTORY_KEEP})
        return [rules.lenient_item(row["result"]) for row in rows]

    def get_last_test(self, platform: str, account_id: str) -> datetime | None:
        text = self._get(platform, account_id, "last_test")
        return rules.decode_time(text, f"account_state row {platform}/{account_id}/last_test") if text else None

    def set_last_test(self, platform: str, account_id: str, at: datetime | None = None) -> datetime:
        rules.check_account(platform, account_id)
        when = ms_time(at, "at") or utcnow()
        self._put(platform, account_id, "last_test", to_iso(when), None)
        return when

    def delete_test_state(self, platform: str, account_id: str) -> None:
        rules.check_account(platform, account_id)
        self._delete(platform, account_id, "last_test")
        with self._pool.cursor() as cur:
            cur.execute(DELETE_TEST_RESULTS, {"platform": platform, "account_id": account_id})

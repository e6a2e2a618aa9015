"""Per-account side state on Redis in upstream's layout (account_state_rules): balances, tests."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import redis

from .. import account_state_rules as rules
from ..config import Settings
from ..records import AccountBalance
from ..timefmt import to_iso, utcnow
from ..ttl_rules import ms_time, ttl_ms
from .client import redis_errors
from .keys import Keys


class RedisAccountState:
    """store.account_state on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def get_balance(self, platform: str, account_id: str) -> AccountBalance | None:
        rules.check_account(platform, account_id)
        key = self._k.account_balance(platform, account_id)
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(key))
        return rules.decode_balance(platform, account_id, data, self._k.strip(key)) if data else None

    def set_balance(self, platform: str, account_id: str, *, balance: float | None, currency: str = "USD",
                    last_refresh_at: datetime | None = None, query_method: str = "api", status: str = "success",
                    error_message: str = "", raw_data: Any = None, quota: Any = None,
                    ttl_seconds: float = rules.BALANCE_TTL_SECONDS) -> AccountBalance:
        """Upstream's setAccountBalance: HSET the payload, EXPIRE 3600 s (one MULTI here)."""
        ms = ttl_ms(ttl_seconds)
        record = rules.new_balance(platform, account_id, balance=balance, currency=currency,
                                   last_refresh_at=last_refresh_at, query_method=query_method, status=status,
                                   error_message=error_message, raw_data=raw_data, quota=quota, now=utcnow())
        key = self._k.account_balance(platform, account_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(key, mapping=cast(Any, rules.encode_balance(record)))
            pipe.pexpire(key, ms)
            pipe.execute()
        return record

    def get_local_balance(self, platform: str, account_id: str) -> Any:
        rules.check_account(platform, account_id)
        with redis_errors():
            data = cast("dict[str, str]", self._r.hgetall(self._k.account_balance_local(platform, account_id)))
        return rules.decode_local(data)

    def set_local_balance(self, platform: str, account_id: str, estimate: Any, *,
                          ttl_seconds: float = rules.LOCAL_BALANCE_TTL_SECONDS) -> None:
        rules.check_account(platform, account_id)
        ms = ttl_ms(ttl_seconds)
        key = self._k.account_balance_local(platform, account_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(key, mapping=cast(Any, rules.encode_local(estimate, utcnow())))
            pipe.pexpire(key, ms)
            pipe.execute()

    def delete_balance(self, platform: str, account_id: str) -> bool:
        """Upstream's deleteAccountBalance: both balance caches."""
        rules.check_account(platform, account_id)
        with redis_errors():
            return bool(self._r.delete(self._k.account_balance(platform, account_id),
                                       self._k.account_balance_local(platform, account_id)))

    def get_balance_script(self, platform: str, account_id: str) -> Any:
        rules.check_account(platform, account_id)
        key = self._k.account_balance_script(platform, account_id)
        with redis_errors():
            text = cast("str | None", self._r.get(key))
        return None if not text else rules.decode_json_value(text, self._k.strip(key))

    def set_balance_script(self, platform: str, account_id: str, config: Any) -> None:
        rules.check_account(platform, account_id)
        text = rules.json_text(config if config else {}, "config")
        with redis_errors():
            self._r.set(self._k.account_balance_script(platform, account_id), text)

    def delete_balance_script(self, platform: str, account_id: str) -> bool:
        rules.check_account(platform, account_id)
        with redis_errors():
            return bool(self._r.delete(self._k.account_balance_script(platform, account_id)))

    def add_test_result(self, platform: str, account_id: str, result: Any) -> None:
        """LPUSH + LTRIM to the newest 5 + EXPIRE 30 days, in one MULTI."""
        rules.check_account(platform, account_id)
        text = result if isinstance(result, str) else rules.json_text(result, "result")
        key = self._k.account_test_history(platform, account_id)
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.lpush(key, text)
            pipe.ltrim(key, 0, rules.TEST_HISTORY_KEEP - 1)
            pipe.expire(key, rules.TEST_HISTORY_TTL_SECONDS)
            pipe.execute()

    def list_test_results(self, platform: str, account_id: str) -> list[Any]:
        """Newest first; an entry that is not JSON comes back as its text, as upstream reads it."""
        rules.check_account(platform, account_id)
        with redis_errors():
            items = cast("list[str]", self._r.lrange(self._k.account_test_history(platform, account_id), 0, -1))
        return [rules.lenient_item(item) for item in items]

    def get_last_test(self, platform: str, account_id: str) -> datetime | None:
        rules.check_account(platform, account_id)
        key = self._k.account_last_test(platform, account_id)
        with redis_errors():
            text = cast("str | None", self._r.get(key))
        return rules.decode_time(text, self._k.strip(key)) if text else None

    def set_last_test(self, platform: str, account_id: str, at: datetime | None = None) -> datetime:
        rules.check_account(platform, account_id)
        when = ms_time(at, "at") or utcnow()
        with redis_errors():
            self._r.set(self._k.account_last_test(platform, account_id), to_iso(when))
        return when

    def delete_test_state(self, platform: str, account_id: str) -> None:
        rules.check_account(platform, account_id)
        with redis_errors():
            self._r.delete(self._k.account_test_history(platform, account_id),
                           self._k.account_last_test(platform, account_id))

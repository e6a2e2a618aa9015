"""Request details on Redis in upstream's layout (request_detail_rules): item JSON + UTC-day ZSET.

The day index outlives its items by a day, so it can name ids whose item already expired;
list_day() skips those, and also ids whose item now sits on another day (a later put() moved
its timestamp), so both backends list the same records.
"""
from __future__ import annotations

from typing import Any, cast

import redis

from .. import request_detail_rules as rules
from ..config import Settings
from ..errors import InvalidInput
from ..records import RequestDetail
from ..timefmt import utcnow
from ..ttl_rules import check_text_id
from .client import redis_errors
from .keys import Keys

MIN_CHUNK = 16


class RedisRequestDetails:
    """store.request_details on Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self._r = client
        self._k = keys
        self._settings = settings

    def put(self, detail: dict[str, Any] | RequestDetail, *,
            retention_hours: int = rules.DEFAULT_RETENTION_HOURS,
            ttl_seconds: float | None = None) -> RequestDetail:
        """Store (or replace) a capture: SET EX, ZADD to its UTC day, re-arm the day's TTL; one MULTI."""
        item_ms = rules.item_ttl_ms(retention_hours, ttl_seconds)
        record = rules.prepare(detail, now=utcnow())
        day_key = self._k.request_detail_day_index(rules.day_of(record.timestamp))
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(self._k.request_detail(record.request_id), rules.to_json(record), px=item_ms)
            pipe.zadd(day_key, {record.request_id: rules.epoch_ms(record.timestamp)})
            pipe.pexpire(day_key, rules.index_ttl_ms(item_ms))
            pipe.execute()
        return record

    def get(self, request_id: str) -> RequestDetail | None:
        check_text_id(request_id, "request_id", rules.REQUEST_ID_MAX)
        key = self._k.request_detail(request_id)
        with redis_errors():
            text = cast("str | None", self._r.get(key))
        return rules.from_json(text, self._k.strip(key)) if text is not None else None

    def delete(self, request_id: str) -> bool:
        """Remove a capture and its day-index entry; False when it was not there."""
        record = self.get(request_id)
        if record is None:
            return False
        with redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(self._k.request_detail(request_id))
            pipe.zrem(self._k.request_detail_day_index(rules.day_of(record.timestamp)), request_id)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def list_day(self, day: str, *, limit: int = 50, offset: int = 0,
                 newest_first: bool = True) -> list[RequestDetail]:
        """Live captures of one UTC day by timestamp (ties by id), read from the day ZSET in chunks."""
        rules.day_bounds(day)
        if limit < 1 or offset < 0:
            raise InvalidInput("limit must be at least 1 and offset not negative")
        index = self._k.request_detail_day_index(day)
        wanted = offset + limit
        kept: list[tuple[str, str]] = []
        seen = start = 0
        with redis_errors():
            while seen < wanted:
                # Ask for what is still missing (expired or moved entries make later rounds).
                count = max(wanted - seen, MIN_CHUNK)
                ids = cast("list[str]", (self._r.zrevrange if newest_first else self._r.zrange)(
                    index, start, start + count - 1))
                if not ids:
                    break
                start += len(ids)
                pipe = self._r.pipeline(transaction=False)
                for request_id in ids:
                    pipe.get(self._k.request_detail(request_id))
                for request_id, text in zip(ids, pipe.execute()):
                    # An expired item (the index lives a day longer) or one moved to another day
                    # is not on this day; records before `offset` are only counted, not built.
                    if text is None or rules.stored_day(text) != day:
                        continue
                    seen += 1
                    if offset < seen <= wanted:
                        kept.append((request_id, text))
        return [rules.from_json(text, self._k.strip(self._k.request_detail(request_id)))
                for request_id, text in kept]

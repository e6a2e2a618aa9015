"""Request details: each `request_detail:item:{requestId}` JSON string (TTL'd) <-> a request_details row.

The request_detail:index:day:{day} ZSETs are derived: not copied; the rollback adds each item to
its UTC day's ZSET as the Redis DAO's put() does, and gives the ZSET upstream's TTL (the longest
remaining item TTL of that day plus one day). Index entries naming items that already expired,
or that a later put() moved to another day, are not carried over (list_day() skips them anyway).
request_detail:query_snapshot:* (a short-lived UI cache) is not migrated.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from ... import request_detail_rules as rules
from ...errors import DataError
from ...records import RequestDetail
from ...redis.keys import Keys
from ..family import KeySource
from ..ttl import naive_utc, queue_expiry
from .expiring import Expiring, KeyedTableFamily, Parsed

INDEX_GRACE = timedelta(seconds=rules.INDEX_GRACE_SECONDS)


class RequestDetailsFamily(KeyedTableFamily[Parsed[RequestDetail]]):
    """Rows keep the item's JSON verbatim in `data` and its timestamp in occurred_at."""

    name = "request_details"
    sources = (KeySource(type="string", match="request_detail:item:*",
                         regex=re.compile(r"request_detail:item:.+", re.DOTALL)),)
    table, key_column, key_prefix = "request_details", "request_id", "request_detail:item:"
    columns = ("occurred_at", "data")

    def decode_value(self, key: str, value: Any) -> Parsed[RequestDetail]:
        if not isinstance(value, str):
            raise DataError(f"{key}: not a string value")
        detail = rules.from_json(value, key)
        if detail.request_id != self._id(key):
            raise DataError(f"{key}: field requestId does not match the key name")
        return Parsed(value, detail)

    def to_row(self, record: Expiring[Parsed[RequestDetail]]) -> dict[str, Any]:
        return {"occurred_at": naive_utc(record.value.record.timestamp), "data": record.value.text}

    def from_row(self, key: str, row: dict[str, Any]) -> Parsed[RequestDetail]:
        return Parsed(row["data"], rules.from_json(row["data"], f"request_details row {key}"))

    def compare_values(self, a: Parsed[RequestDetail], b: Parsed[RequestDetail]) -> list[str]:
        if a.text == b.text:
            return []
        x, y = a.record.data, b.record.data
        return sorted(n for n in set(x) | set(y) if x.get(n) != y.get(n)) or ["data"]

    def queue_value(self, pipe: Any, k: Keys, record: Expiring[Parsed[RequestDetail]]) -> None:
        detail = record.value.record
        pipe.set(k.prefix + record.key, record.value.text)
        day = k.request_detail_day_index(rules.day_of(detail.timestamp))
        pipe.zadd(day, {detail.request_id: rules.epoch_ms(detail.timestamp)})
        if record.expires_at is not None:
            # The day's TTL is its longest-lived item's plus a day: set it on a fresh ZSET (NX), then
            # only ever lengthen it (GT) as later items of the same day are written.
            queue_expiry(pipe, day, record.expires_at + INDEX_GRACE, nx=True)
            queue_expiry(pipe, day, record.expires_at + INDEX_GRACE, gt=True)

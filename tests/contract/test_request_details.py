"""Request-detail contract on both backends: verbatim records, upstream retention, UTC-day listing."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from relaystore import InvalidInput, RequestDetail
from relaystore.request_detail_rules import item_ttl_ms
from tests.contract.test_api_keys import HOSTILE

DAY = "2025-07-30"


def _detail(request_id: str, at: datetime, **fields: object) -> dict[str, object]:
    return {"requestId": request_id, "timestamp": at.isoformat().replace("+00:00", "Z"), "model": "claude-x",
            "statusCode": 200, "inputTokens": 10, "cost": 0.000123, "costBreakdown": {"input": 1e-7}, **fields}


def test_put_get_replace_delete(store):
    at = datetime(2025, 7, 30, 1, 2, 3, 456000, tzinfo=timezone.utc)
    record = store.request_details.put(_detail("req-1", at))
    assert (record.request_id, record.timestamp) == ("req-1", at)
    assert record.data["timestamp"] == "2025-07-30T01:02:03.456Z"
    assert store.request_details.get("req-1") == record
    replaced = store.request_details.put(_detail("req-1", at, statusCode=500, errorMessage="upstream 502"))
    assert store.request_details.get("req-1") == replaced and replaced.data["statusCode"] == 500
    assert store.request_details.delete("req-1") is True
    assert store.request_details.get("req-1") is None
    assert store.request_details.delete("req-1") is False
    assert store.request_details.list_day(DAY) == []


def test_put_fills_request_id_and_timestamp_as_upstream(store):
    record = store.request_details.put({"model": "m"})
    assert re.fullmatch(r"rd_\d{13}_[0-9a-z]{8}", record.request_id)
    assert abs(record.timestamp - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert store.request_details.get(record.request_id) == record
    again = store.request_details.put(RequestDetail(request_id="given", timestamp=record.timestamp,
                                                    data={"model": "m2"}))
    assert store.request_details.get("given") == again and again.data["requestId"] == "given"


def test_list_day_orders_by_timestamp_then_id_and_pages(store):
    base = datetime(2025, 7, 30, 12, tzinfo=timezone.utc)
    for i in range(6):
        store.request_details.put(_detail(f"r{i}", base + timedelta(minutes=i // 2)))  # pairs share a timestamp
    store.request_details.put(_detail("yesterday", base - timedelta(hours=13)))       # 2025-07-29 23:00 UTC
    store.request_details.put(_detail("tomorrow", base + timedelta(hours=12)))        # 2025-07-31 00:00 UTC
    newest = [r.request_id for r in store.request_details.list_day(DAY, limit=50)]
    assert newest == ["r5", "r4", "r3", "r2", "r1", "r0"]
    oldest = [r.request_id for r in store.request_details.list_day(DAY, newest_first=False)]
    assert oldest == newest[::-1]
    assert [r.request_id for r in store.request_details.list_day(DAY, limit=2, offset=3)] == ["r2", "r1"]
    assert [r.request_id for r in store.request_details.list_day("2025-07-29")] == ["yesterday"]
    assert [r.request_id for r in store.request_details.list_day("2025-07-31")] == ["tomorrow"]


def test_moving_a_detail_to_another_day_lists_it_only_there(store):
    store.request_details.put(_detail("moved", datetime(2025, 7, 30, 8, tzinfo=timezone.utc)))
    store.request_details.put(_detail("moved", datetime(2025, 7, 31, 8, tzinfo=timezone.utc)))
    assert store.request_details.list_day(DAY) == []
    assert [r.request_id for r in store.request_details.list_day("2025-07-31")] == ["moved"]


def test_expired_details_are_neither_read_nor_listed(store):
    at = datetime(2025, 7, 30, 9, tzinfo=timezone.utc)
    store.request_details.put(_detail("short", at), ttl_seconds=0.4)
    store.request_details.put(_detail("long", at + timedelta(seconds=1)), retention_hours=1)
    time.sleep(0.9)
    assert store.request_details.get("short") is None
    assert [r.request_id for r in store.request_details.list_day(DAY)] == ["long"]
    assert store.request_details.delete("short") is False


def test_retention_is_upstreams_clamp():
    assert item_ttl_ms() == 6 * 3600 * 1000                 # default 6 h
    assert item_ttl_ms(0) == 3600 * 1000                    # at least 1 h
    assert item_ttl_ms(10_000) == 720 * 3600 * 1000         # at most 30 days
    assert item_ttl_ms("junk") == 6 * 3600 * 1000           # upstream's parseInt fallback
    assert item_ttl_ms(6, ttl_seconds=2) == 2000


def test_bad_input_is_refused(store):
    with pytest.raises(InvalidInput, match="day"):
        store.request_details.list_day("2025-02-30")
    with pytest.raises(InvalidInput, match="day"):
        store.request_details.list_day("30/07/2025")
    with pytest.raises(InvalidInput, match="timestamp"):
        store.request_details.put({"timestamp": "yesterday"})
    with pytest.raises(InvalidInput, match="requestId"):
        store.request_details.put({"requestId": "r" * 192})
    with pytest.raises(InvalidInput):
        store.request_details.put({"body": object()})


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_values_round_trip(store, text):
    at = datetime(2025, 7, 30, 10, tzinfo=timezone.utc)
    record = store.request_details.put(_detail(text[:191], at, errorMessage=text, requestBodySnapshot={"t": [text]}))
    assert store.request_details.get(text[:191]) == record
    assert store.request_details.list_day(DAY) == [record]

"""Backend-neutral rules for per-account side state upstream keeps beside the accounts (spec §8).

| upstream key | type | content | TTL |
|---|---|---|---|
| `account_balance:{platform}:{id}` | HASH | balance, currency, lastRefreshAt, queryMethod, status, errorMessage, rawData (JSON), quota (JSON) | 3,600 s |
| `account_balance_local:{platform}:{id}` | HASH | estimatedBalance (JSON), lastCalculated (ISO) | 300 s |
| `account_balance_script:{platform}:{id}` | STRING | script config, JSON | none |
| `account:test_history:{platform}:{id}` | LIST | test results as JSON, newest first, 5 kept | 30 days, re-armed on each push |
| `account:last_test:{platform}:{id}` | STRING | time of the last test, ISO | none |

Encoders follow upstream's setAccountBalance (null balance and absent JSON as "", currency
default USD) and readers its getAccountBalance (parseFloat; unparseable JSON reads as None).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .errors import DataError, InvalidInput
from .jsnum import js_json, js_number
from .records import AccountBalance
from .timefmt import parse_iso, to_iso
from .ttl_rules import check_ascii_id, check_text, ms_time

BALANCE_TTL_SECONDS = 3_600
LOCAL_BALANCE_TTL_SECONDS = 300
TEST_HISTORY_TTL_SECONDS = 30 * 86_400
TEST_HISTORY_KEEP = 5
PLATFORM_MAX = 32
ACCOUNT_ID_MAX = 64
BALANCE_FIELDS = ("balance", "currency", "lastRefreshAt", "queryMethod", "status", "errorMessage", "rawData",
                  "quota")


def check_account(platform: object, account_id: object) -> None:
    check_ascii_id(platform, "platform", PLATFORM_MAX)
    check_ascii_id(account_id, "account_id", ACCOUNT_ID_MAX)


def json_text(value: Any, what: str) -> str:
    try:
        return js_json(value)
    except TypeError as exc:
        raise InvalidInput(f"{what} must hold JSON values: {exc}") from None


def new_balance(platform: str, account_id: str, *, balance: float | None, currency: str,
                last_refresh_at: datetime | None, query_method: str, status: str, error_message: str,
                raw_data: Any, quota: Any, now: datetime) -> AccountBalance:
    check_account(platform, account_id)
    if balance is not None and (isinstance(balance, bool) or not isinstance(balance, (int, float))):
        raise InvalidInput(f"balance must be a number or None, got {type(balance).__name__}")
    for name, value in (("currency", currency), ("query_method", query_method), ("status", status)):
        check_text(value, name, 64)
    check_text(error_message, "error_message", 16_383)
    json_text(raw_data, "raw_data")
    json_text(quota, "quota")
    return AccountBalance(platform=platform, account_id=account_id,
                          balance=None if balance is None else float(balance), currency=currency or "USD",
                          last_refresh_at=ms_time(last_refresh_at, "last_refresh_at") or now,
                          query_method=query_method or "api", status=status or "success",
                          error_message=error_message, raw_data=raw_data or None, quota=quota or None)


def encode_balance(record: AccountBalance) -> dict[str, str]:
    """Upstream's setAccountBalance payload."""
    return {"balance": "" if record.balance is None else js_number(record.balance),
            "currency": record.currency,
            "lastRefreshAt": "" if record.last_refresh_at is None else to_iso(record.last_refresh_at),
            "queryMethod": record.query_method, "status": record.status, "errorMessage": record.error_message,
            "rawData": js_json(record.raw_data) if record.raw_data else "",
            "quota": js_json(record.quota) if record.quota else ""}


def _lenient_json(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None  # upstream: JSON.parse failure reads as null


def decode_balance(platform: str, account_id: str, data: Mapping[str, str], label: str) -> AccountBalance:
    """Upstream's getAccountBalance reading of the hash."""
    balance: float | None = None
    if data.get("balance"):
        try:
            balance = float(data["balance"])
        except ValueError:
            raise DataError(f"{label}: field balance is not a number") from None
    refreshed = data.get("lastRefreshAt") or ""
    try:
        last_refresh_at = parse_iso(refreshed) if refreshed else None
    except ValueError:
        raise DataError(f"{label}: field lastRefreshAt is not an ISO timestamp") from None
    return AccountBalance(platform=platform, account_id=account_id, balance=balance,
                          currency=data.get("currency") or "USD", last_refresh_at=last_refresh_at,
                          query_method=data.get("queryMethod", ""), status=data.get("status", ""),
                          error_message=data.get("errorMessage", ""),
                          raw_data=_lenient_json(data.get("rawData", "")),
                          quota=_lenient_json(data.get("quota", "")))


def encode_local(estimate: Any, now: datetime) -> dict[str, str]:
    """Upstream's setLocalBalance hash: the estimate as JSON and when it was computed."""
    return {"estimatedBalance": json_text(estimate if estimate else {}, "estimate"), "lastCalculated": to_iso(now)}


def decode_local(data: Mapping[str, str]) -> Any:
    """Upstream's getLocalBalance: the parsed estimate, None when absent or unparseable."""
    return _lenient_json(data.get("estimatedBalance", ""))


def decode_json_value(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise DataError(f"{label}: value is not valid JSON") from None


def decode_time(text: str, label: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError:
        raise DataError(f"{label}: value is not an ISO timestamp") from None


def lenient_item(text: str) -> Any:
    """A test-history entry: parsed JSON, or the text itself when it is not JSON (as upstream)."""
    try:
        return json.loads(text)
    except ValueError:
        return text

"""Usage and cost: every rollup hash and cost string of redis-layout.md §3-§4 <-> usage_rollups rows.

Each Redis key maps to one role of one row (scope, owner_id, period, bucket, model):
- a rollup hash -> the row's counters (per-model hashes also their real/rated cost from *CostMicro);
- `usage:cost:*` / `usage:opus:{weekly,total}` -> the rated cost of the key's owner row, and the
  `:real:` strings -> its real cost, so the MySQL DAO reads exactly what Redis held;
- `usage:global:*`, `usage:model:*` and `system:metrics:minute:*` -> scope 'g' rows.
Counters are copied as absolute values. What the columns cannot reproduce (fields the table has
no column for, an absent derived field, the exact INCRBYFLOAT text) and each key's expiry are kept
beside them (schema.sql), so the rollback writes the same keys, fields, values and TTLs back.
The index sets and `usage:model:monthly:months` are derived: not copied, rebuilt by write_redis()
from the hashes as the Redis DAO writes them (an index expires with its latest member).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ...errors import DataError
from ...mysql.bulk import executemany
from ...mysql.pool import MySQLPool
from ...redis import codec
from ...redis import usage as redis_usage
from ...redis.keys import Keys
from .. import ttl
from ..family import Family, KeySource

D, M, H = r"[0-9]{4}-[0-9]{2}-[0-9]{2}", r"[0-9]{4}-[0-9]{2}", r"[0-9]{4}-[0-9]{2}-[0-9]{2}:[0-9]{2}"
W = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}"
ID = r"(?P<o>[^:]+)"
HASH, COST, REAL = 1, 2, 4   # roles: bits of usage_rollups.redis_keys

_PLAIN = {"requests": "requests", "inputTokens": "input_tokens", "outputTokens": "output_tokens",
          "cacheCreateTokens": "cache_create_tokens", "cacheReadTokens": "cache_read_tokens",
          "ephemeral5mTokens": "ephemeral_5m_tokens", "ephemeral1hTokens": "ephemeral_1h_tokens",
          "longContextInputTokens": "long_context_input_tokens",
          "longContextOutputTokens": "long_context_output_tokens", "longContextRequests": "long_context_requests"}
_TOTAL = {"total" + f[0].upper() + f[1:]: c for f, c in _PLAIN.items()}
_MICRO = {"realCostMicro": "real_cost", "ratedCostMicro": "rated_cost"}
COUNTERS = tuple(_PLAIN.values())
_LONG = ("long_context_input_tokens", "long_context_output_tokens", "long_context_requests")


def _core(c: dict[str, Any]) -> int:
    return int(c["input_tokens"] + c["output_tokens"])


def _all(c: dict[str, Any]) -> int:
    return int(c["input_tokens"] + c["output_tokens"] + c["cache_create_tokens"] + c["cache_read_tokens"])


@dataclass(frozen=True)
class Shape:
    """The fields of one kind of rollup hash: counters by name, fields derived from them, what is always there."""

    names: dict[str, str]                           # Redis field -> column
    always: tuple[str, ...]                          # fields the DAO writes on every request
    derived: dict[str, Callable[[dict[str, Any]], int]]
    micro: bool = False                              # realCostMicro/ratedCostMicro, present once > 0

    def render(self, cols: dict[str, Any]) -> dict[str, str]:
        """The hash the Redis DAO would hold for these counters."""
        out = {}
        for name in self.always:
            out[name] = str(self.derived[name](cols)) if name in self.derived else str(int(cols[self.names[name]]))
        if cols["long_context_requests"]:
            for name, col in self.names.items():
                if col in _LONG:
                    out[name] = str(int(cols[col]))
        if self.micro:
            for name, col in _MICRO.items():
                if cols[col]:
                    out[name] = str(int(cols[col] * 1000000))
        return out


_BASE = ("inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "requests", "ephemeral5mTokens",
         "ephemeral1hTokens")
_TOTAL_SHAPE = Shape(_TOTAL, ("totalTokens", "totalAllTokens") + tuple(f"total{f[0].upper()}{f[1:]}" for f in _BASE),
                     {"totalTokens": _core, "totalAllTokens": _all})
_PERIOD_SHAPE = Shape(_PLAIN, ("tokens", "allTokens") + _BASE, {"tokens": _core, "allTokens": _all})
_MODEL_SHAPE = Shape(_PLAIN, ("allTokens",) + _BASE, {"allTokens": _all})
_KEY_MODEL_SHAPE = Shape({**_PLAIN, **_MICRO}, ("allTokens",) + _BASE, {"allTokens": _all}, micro=True)
_ALLTIME_SHAPE = Shape({**_PLAIN, **_MICRO}, _BASE, {}, micro=True)
_MINUTE_SHAPE = Shape(_PLAIN, ("requests", "totalTokens", "inputTokens", "outputTokens", "cacheCreateTokens",
                               "cacheReadTokens"), {"totalTokens": _all})

_K = Keys("")


@dataclass(frozen=True)
class Kind:
    """One key shape: regex (groups o=owner, m=model, b=bucket), its row and role, TTL, derived index."""

    name: str
    regex: re.Pattern[str]
    scope: str
    period: str
    role: int
    shape: Shape | None = None
    ttl: int | None = None                                          # seconds the DAO arms, None: no TTL
    key: Callable[[str, str, str], str] | None = None                # (owner, model, bucket) -> relative key
    indexes: Callable[[str, str, str], list[tuple[str, str]]] | None = None   # -> [(index key, member)]


def _kind(name: str, pattern: str, scope: str, period: str, role: int, key: Callable[[str, str, str], str],
          shape: Shape | None = None, ttl: int | None = None,
          indexes: Callable[[str, str, str], list[tuple[str, str]]] | None = None) -> Kind:
    return Kind(name, re.compile(pattern), scope, period, role, shape, ttl, key, indexes)


R = redis_usage
KINDS: tuple[Kind, ...] = (
    # key-level hashes
    _kind("key_total", rf"usage:{ID}", "k", "T", HASH, lambda o, m, b: _K.usage_total(o), _TOTAL_SHAPE),
    _kind("key_daily", rf"usage:daily:(?!index:){ID}:(?P<b>{D})", "k", "D", HASH,
          lambda o, m, b: _K.usage_daily(o, b), _PERIOD_SHAPE, R.TTL_DAILY,
          lambda o, m, b: [(_K.usage_daily_index(b), o)]),
    _kind("key_monthly", rf"usage:monthly:{ID}:(?P<b>{M})", "k", "M", HASH,
          lambda o, m, b: _K.usage_monthly(o, b), _PERIOD_SHAPE, R.TTL_MONTHLY),
    _kind("key_hourly", rf"usage:hourly:(?!index:){ID}:(?P<b>{H})", "k", "H", HASH,
          lambda o, m, b: _K.usage_hourly(o, b), _PERIOD_SHAPE, R.TTL_HOURLY,
          lambda o, m, b: [(_K.usage_hourly_index(b), o)]),
    _kind("key_model_daily", rf"usage:{ID}:model:daily:(?P<m>.+):(?P<b>{D})", "k", "D", HASH,
          lambda o, m, b: _K.usage_key_model_daily(o, m, b), _KEY_MODEL_SHAPE, R.TTL_DAILY,
          lambda o, m, b: [(_K.usage_key_model_daily_index(b), f"{o}:{m}")]),
    _kind("key_model_monthly", rf"usage:{ID}:model:monthly:(?P<m>.+):(?P<b>{M})", "k", "M", HASH,
          lambda o, m, b: _K.usage_key_model_monthly(o, m, b), _KEY_MODEL_SHAPE, R.TTL_MONTHLY),
    _kind("key_model_hourly", rf"usage:{ID}:model:hourly:(?P<m>.+):(?P<b>{H})", "k", "H", HASH,
          lambda o, m, b: _K.usage_key_model_hourly(o, m, b), _KEY_MODEL_SHAPE, R.TTL_HOURLY,
          lambda o, m, b: [(_K.usage_key_model_hourly_index(b), f"{o}:{m}")]),
    _kind("key_model_alltime", rf"usage:{ID}:model:alltime:(?P<m>.+)", "k", "T", HASH,
          lambda o, m, b: _K.usage_key_model_alltime(o, m), _ALLTIME_SHAPE),
    # across keys: global, per model, system metrics
    _kind("global_total", r"usage:global:total", "g", "T", HASH, lambda o, m, b: _K.usage_global_total,
          _MODEL_SHAPE),
    _kind("global_daily", rf"usage:global:daily:(?P<b>{D})", "g", "D", HASH,
          lambda o, m, b: _K.usage_global_daily(b), _MODEL_SHAPE, R.TTL_DAILY),
    _kind("global_monthly", rf"usage:global:monthly:(?P<b>{M})", "g", "M", HASH,
          lambda o, m, b: _K.usage_global_monthly(b), _MODEL_SHAPE, R.TTL_MONTHLY),
    _kind("model_daily", rf"usage:model:daily:(?!index:{D}\Z)(?P<m>.+):(?P<b>{D})", "g", "D", HASH,
          lambda o, m, b: _K.usage_model_daily(m, b), _MODEL_SHAPE, R.TTL_DAILY,
          lambda o, m, b: [(_K.usage_model_daily_index(b), m)]),
    _kind("model_monthly", rf"usage:model:monthly:(?!index:{M}\Z)(?P<m>.+):(?P<b>{M})", "g", "M", HASH,
          lambda o, m, b: _K.usage_model_monthly(m, b), _MODEL_SHAPE, R.TTL_MONTHLY,
          lambda o, m, b: [(_K.usage_model_monthly_index(b), m), (_K.usage_model_monthly_months, b)]),
    _kind("model_hourly", rf"usage:model:hourly:(?!index:{H}\Z)(?P<m>.+):(?P<b>{H})", "g", "H", HASH,
          lambda o, m, b: _K.usage_model_hourly(m, b), _MODEL_SHAPE, R.TTL_HOURLY,
          lambda o, m, b: [(_K.usage_model_hourly_index(b), m)]),
    _kind("minute", r"system:metrics:minute:(?P<b>[0-9]{1,13})", "g", "N", HASH,
          lambda o, m, b: _K.system_metrics_minute(int(b)), _MINUTE_SHAPE, R.TTL_MINUTE),
    # account-level hashes
    _kind("account_total", rf"account_usage:{ID}", "a", "T", HASH, lambda o, m, b: _K.account_usage_total(o),
          _TOTAL_SHAPE),
    _kind("account_daily", rf"account_usage:daily:(?!index:){ID}:(?P<b>{D})", "a", "D", HASH,
          lambda o, m, b: _K.account_usage_daily(o, b), _PERIOD_SHAPE, R.TTL_DAILY,
          lambda o, m, b: [(_K.account_usage_daily_index(b), o)]),
    _kind("account_monthly", rf"account_usage:monthly:{ID}:(?P<b>{M})", "a", "M", HASH,
          lambda o, m, b: _K.account_usage_monthly(o, b), _PERIOD_SHAPE, R.TTL_MONTHLY),
    _kind("account_hourly", rf"account_usage:hourly:(?!index:){ID}:(?P<b>{H})", "a", "H", HASH,
          lambda o, m, b: _K.account_usage_hourly(o, b), _PERIOD_SHAPE, R.TTL_HOURLY,
          lambda o, m, b: [(_K.account_usage_hourly_index(b), o)]),
    _kind("account_model_daily", rf"account_usage:model:daily:{ID}:(?P<m>.+):(?P<b>{D})", "a", "D", HASH,
          lambda o, m, b: _K.account_usage_model_daily(o, m, b), _MODEL_SHAPE, R.TTL_DAILY,
          lambda o, m, b: [(_K.account_usage_model_daily_index(b), f"{o}:{m}")]),
    _kind("account_model_monthly", rf"account_usage:model:monthly:{ID}:(?P<m>.+):(?P<b>{M})", "a", "M", HASH,
          lambda o, m, b: _K.account_usage_model_monthly(o, m, b), _MODEL_SHAPE, R.TTL_MONTHLY),
    _kind("account_model_hourly", rf"account_usage:model:hourly:{ID}:(?P<m>.+):(?P<b>{H})", "a", "H", HASH,
          lambda o, m, b: _K.account_usage_model_hourly(o, m, b), _MODEL_SHAPE, R.TTL_HOURLY,
          lambda o, m, b: [(_K.account_usage_model_hourly_index(b), f"{o}:{m}")]),
    # cost strings (the owner row's rated or real cost)
    _kind("cost_daily", rf"usage:cost:daily:{ID}:(?P<b>{D})", "k", "D", COST,
          lambda o, m, b: _K.cost_daily(o, b), ttl=R.TTL_COST_DAILY),
    _kind("cost_monthly", rf"usage:cost:monthly:{ID}:(?P<b>{M})", "k", "M", COST,
          lambda o, m, b: _K.cost_monthly(o, b), ttl=R.TTL_COST_MONTHLY),
    _kind("cost_hourly", rf"usage:cost:hourly:{ID}:(?P<b>{H})", "k", "H", COST,
          lambda o, m, b: _K.cost_hourly(o, b), ttl=R.TTL_COST_HOURLY),
    _kind("cost_total", rf"usage:cost:total:{ID}", "k", "T", COST, lambda o, m, b: _K.cost_total(o)),
    _kind("cost_real_total", rf"usage:cost:real:total:{ID}", "k", "T", REAL, lambda o, m, b: _K.cost_real_total(o)),
    _kind("cost_real_daily", rf"usage:cost:real:daily:{ID}:(?P<b>{D})", "k", "D", REAL,
          lambda o, m, b: _K.cost_real_daily(o, b), ttl=R.TTL_COST_DAILY),
    _kind("opus_weekly", rf"usage:opus:weekly:{ID}:(?P<b>{W})", "k", "O", COST,
          lambda o, m, b: _K.opus_weekly(o, b), ttl=R.TTL_OPUS_WEEKLY),
    _kind("opus_total", rf"usage:opus:total:{ID}", "k", "O", COST, lambda o, m, b: _K.opus_total(o)),
    _kind("opus_real_weekly", rf"usage:opus:real:weekly:{ID}:(?P<b>{W})", "k", "O", REAL,
          lambda o, m, b: _K.opus_real_weekly(o, b), ttl=R.TTL_OPUS_WEEKLY),
    _kind("opus_real_total", rf"usage:opus:real:total:{ID}", "k", "O", REAL, lambda o, m, b: _K.opus_real_total(o)),
)
_HASH_KINDS = [k for k in KINDS if k.role == HASH]
_STRING_KINDS = [k for k in KINDS if k.role != HASH]

PK = ("scope", "owner_id", "period", "bucket", "model")
Pk = tuple[str, str, str, str, str]


def _bucket_form(bucket: str) -> str:
    """'', 'D', 'M', 'H' or 'W' (an Opus week) for a bucket string."""
    for form, pattern in (("D", D), ("M", M), ("H", H), ("W", W)):
        if re.fullmatch(pattern, bucket):
            return form
    return "" if bucket == "" else "?"


# (scope, period, bucket form, model given, role) -> kind: how a row's roles name their Redis keys.
_BY_ROW: dict[tuple[str, str, str, bool, int], Kind] = {}
for _k in KINDS:
    _sample = _k.regex.pattern
    _form = "W" if "T[0-9]{2}" in _sample else "D" if f"(?P<b>{D})" in _sample else "M" if f"(?P<b>{M})" in _sample \
        else "H" if f"(?P<b>{H})" in _sample else "N" if _k.period == "N" else ""
    _BY_ROW[(_k.scope, _k.period, _form, "(?P<m>" in _sample, _k.role)] = _k
assert len(_BY_ROW) == len(KINDS), "two kinds of usage key map to the same row role"


def kind_of_row(scope: str, period: str, bucket: str, model: str, role: int) -> Kind | None:
    form = "N" if period == "N" else _bucket_form(bucket)
    return _BY_ROW.get((scope, period, form, bool(model), role))


# Kinds by the literal start of their pattern, longest first: a key is matched against the few
# kinds whose start it has (the kinds never overlap, so the order only saves regex calls).
_BY_START = sorted(((re.match(r"[a-z_:]*", k.regex.pattern).group(), k) for k in KINDS),  # type: ignore[union-attr]
                   key=lambda item: -len(item[0]))


def parse_key(key: str) -> tuple[Kind, Pk] | None:
    """The kind and row of a relative key, or None when usage does not own it."""
    for start, kind in _BY_START:
        if not key.startswith(start):
            continue
        match = kind.regex.fullmatch(key)
        if match:
            groups = match.groupdict()
            return kind, (kind.scope, groups.get("o") or "", kind.period, groups.get("b") or "", groups.get("m") or "")
    return None


@dataclass
class UsageValue:
    """One Redis key of the family: its exact value and expiry, and the row part it maps to."""

    key: str
    kind: Kind
    pk: Pk
    value: dict[str, str] | str
    expires_ms: int | None
    cols: dict[str, Any]           # the role's counter/cost columns
    extra: str | None = None       # hash_extra JSON, or the exact cost text


_INT = re.compile(r"-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_TEN = Decimal("1e-10")


def _counter(value: str, key: str, name: str) -> int:
    if _INT.fullmatch(value):
        return int(value)
    return codec.dec_int(value, key, name) if value != "" else _bad(key, name)


def _bad(key: str, name: str) -> int:
    raise DataError(f"{key}: field {name} is not a number")


def decode_hash(key: str, kind: Kind, data: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """(columns, hash_extra) of a rollup hash; DataError naming the key for a counter that is not a number."""
    shape = kind.shape
    assert shape is not None
    cols: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    if shape.micro:
        cols.update(real_cost=Decimal(0), rated_cost=Decimal(0))
    for name, value in data.items():
        col = shape.names.get(name)
        if col is not None:
            n = _counter(value, key, name)
            cols[col] = Decimal(n).scaleb(-6) if col in ("real_cost", "rated_cost") else n
        elif name in shape.derived or name in _PLAIN or name in _TOTAL or name in ("tokens", "allTokens") \
                or name.startswith("model:"):
            _counter(value, key, name)   # a counter relaystore derives or keeps aside: must still be a number
    rendered = shape.render(cols)
    changed = {n: v for n, v in data.items() if rendered.get(n) != v}
    dropped = sorted(n for n in rendered if n not in data)
    extra = json.dumps({"set": changed, "del": dropped}, ensure_ascii=False, separators=(",", ":"),
                       sort_keys=True) if changed or dropped else None
    return cols, extra


def decode_cost(key: str, text: str) -> Decimal:
    """An INCRBYFLOAT string as the DECIMAL(20,10) column holds it."""
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        raise DataError(f"{key}: cost is not a number")
    try:
        return Decimal(text).quantize(_TEN)
    except InvalidOperation:
        raise DataError(f"{key}: cost is out of range") from None


def render_hash(kind: Kind, cols: dict[str, Any], extra: str | None) -> dict[str, str]:
    """The hash a row's counters stand for, with the exceptions kept when it was copied.

    A kept spelling of a counter ("007") applies only while the column still holds that number: a
    counter the MySQL backend moved after the cutover is written as the number it now is.
    """
    shape = kind.shape
    assert shape is not None
    out = shape.render(cols)
    if extra:
        spec = json.loads(extra)
        for name, value in spec["set"].items():
            col = shape.names.get(name)
            if col is not None and _stale(value, cols[col], col):
                continue
            out[name] = value
        for name in spec["del"]:
            out.pop(name, None)
    return out


def _stale(text: str, column: Any, col: str) -> bool:
    """Whether a kept counter spelling no longer stands for the column's value."""
    try:
        number = _counter(text, "", col)
    except DataError:
        return True
    return number != (int(column * 1000000) if col in _MICRO.values() else int(column))


def render_cost(value: Decimal, text: str | None) -> str:
    """The cost string: the exact text kept when it still matches the column, else the column's decimal."""
    if text is not None and Decimal(text).quantize(_TEN) == value:
        return text
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


# --- SQL ---------------------------------------------------------------------------------------

_PK_LIST = ", ".join(PK)
_COUNTER_LIST = ", ".join(COUNTERS)


def _upsert(columns: Sequence[str], meta: Sequence[str], expires: str, bit: int) -> str:
    cols = [*PK, *columns, *meta, expires, "redis_keys"]
    updates = [f"{c} = VALUES({c})" for c in (*columns, *meta)]
    updates += [ttl.keep_close(expires), f"redis_keys = COALESCE(redis_keys, 0) | {bit}"]
    return (f"INSERT INTO usage_rollups ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON DUPLICATE KEY UPDATE {', '.join(updates)}")


# One multi-row statement per role (bulk.executemany); absolute values, never added.
UPSERT_USAGE_HASHES = _upsert(COUNTERS, ("hash_extra",), "hash_expires_at", HASH)
UPSERT_USAGE_MODEL_HASHES = _upsert(COUNTERS + ("real_cost", "rated_cost"), ("hash_extra",), "hash_expires_at", HASH)
UPSERT_USAGE_COSTS = _upsert(("rated_cost",), ("cost_text",), "cost_expires_at", COST)
UPSERT_USAGE_REAL_COSTS = _upsert(("real_cost",), ("real_cost_text",), "real_cost_expires_at", REAL)

_ROW_IN = f"({_PK_LIST}) IN ({{rows}})"
_CLEAR = {
    "hash": ", ".join([f"{c} = 0" for c in COUNTERS] + ["hash_extra = NULL", "hash_expires_at = NULL"]),
    "model_hash": ", ".join([f"{c} = 0" for c in COUNTERS + ("real_cost", "rated_cost")]
                            + ["hash_extra = NULL", "hash_expires_at = NULL"]),
    "cost": "rated_cost = 0, cost_text = NULL, cost_expires_at = NULL",
    "real": "real_cost = 0, real_cost_text = NULL, real_cost_expires_at = NULL",
}
# A key gone from Redis: its role's columns cleared, then rows that no longer stand for any key removed.
CLEAR_USAGE_ROLE = "UPDATE usage_rollups SET {clear}, redis_keys = COALESCE(redis_keys, 7) & ~{bit} WHERE " + _ROW_IN
DELETE_EMPTY_USAGE_ROLLUPS = "DELETE FROM usage_rollups WHERE redis_keys = 0 AND " + _ROW_IN

_READ_LIST = (f"{_PK_LIST}, {_COUNTER_LIST}, real_cost, rated_cost, redis_keys, hash_extra, hash_expires_at, "
              "cost_text, cost_expires_at, real_cost_text, real_cost_expires_at")
# Verify and rollback read the rows of one batch of keys by primary key.
SELECT_USAGE_ROLLUPS_BY_PKS = f"SELECT {_READ_LIST} FROM usage_rollups WHERE " + _ROW_IN
# Every row in primary-key order, one page after another (keyset pagination on the primary key).
# The row comparison (a, b, ...) > (...) spelled out: MariaDB reads a row-constructor comparison as a
# full index scan, while this OR of prefix ranges is a range read on both servers.
SELECT_USAGE_ROLLUPS_AFTER = f"""
    SELECT {_READ_LIST} FROM usage_rollups
    WHERE scope > %(scope)s
       OR (scope = %(scope)s AND owner_id > %(owner_id)s)
       OR (scope = %(scope)s AND owner_id = %(owner_id)s AND period > %(period)s)
       OR (scope = %(scope)s AND owner_id = %(owner_id)s AND period = %(period)s AND bucket > %(bucket)s)
       OR (scope = %(scope)s AND owner_id = %(owner_id)s AND period = %(period)s AND bucket = %(bucket)s
           AND model > %(model)s)
    ORDER BY {_PK_LIST} LIMIT %(limit)s
"""
SELECT_FIRST_USAGE_ROLLUPS = f"SELECT {_READ_LIST} FROM usage_rollups ORDER BY {_PK_LIST} LIMIT %s"


def _rows_in(n: int) -> str:
    return ", ".join(["(%s, %s, %s, %s, %s)"] * n)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else value


def _pk_of(row: dict[str, Any]) -> Pk:
    return (row["scope"], row["owner_id"], row["period"], row["bucket"], _text(row["model"]))


def _present(row: dict[str, Any], role: int) -> bool:
    """Whether the row stands for a Redis key in this role.

    Copied rows say so in redis_keys; a role the copy did not see but the MySQL backend has since
    counted into (after the cutover), and rows only record() wrote, are present by their values.
    """
    bits = row["redis_keys"]
    if bits is not None and bits & role:
        return True
    if role == HASH:
        return bits is None or row["requests"] > 0
    if role == COST:
        return row["rated_cost"] > 0 or (bits is None and row["real_cost"] > 0)
    return row["real_cost"] > 0


def values_of_row(row: dict[str, Any], now_ms: int) -> list[UsageValue]:
    """Every Redis key a usage_rollups row stands for, with its value and expiry."""
    scope, owner, period, bucket, model = pk = _pk_of(row)
    out = []
    bits = row["redis_keys"] or 0
    for role, expires_col in ((HASH, "hash_expires_at"), (COST, "cost_expires_at"), (REAL, "real_cost_expires_at")):
        kind = kind_of_row(scope, period, bucket, model, role)
        if kind is None or not _present(row, role):
            continue
        if role == HASH:
            cols = {c: int(row[c]) for c in COUNTERS}
            cols.update(real_cost=row["real_cost"], rated_cost=row["rated_cost"])
            value: dict[str, str] | str = render_hash(kind, cols, row["hash_extra"])
        elif role == COST:
            value = render_cost(row["rated_cost"], row["cost_text"])
        else:
            value = render_cost(row["real_cost"], row["real_cost_text"])
        # a copied key keeps its expiry; any other is armed as if written now, as the relay would
        expires = ttl.epoch_ms(row[expires_col]) if bits & role else (now_ms + kind.ttl * 1000 if kind.ttl else None)
        out.append(UsageValue(kind.key(owner, model, bucket), kind, pk, value, expires, {}))  # type: ignore[misc]
    return out


def _union(kinds: Sequence[Kind], start: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for the kinds whose keys start with `start` (group names dropped: they repeat)."""
    return re.compile("|".join(f"(?:{re.sub(r'[(][?]P<[a-z]+>', '(?:', k.regex.pattern)})"
                               for k in kinds if k.regex.pattern.startswith(start)))


class UsageFamily(Family):
    name = "usage"
    # Three SCANs (each one walks the whole keyspace): usage:* and account_usage:* hashes in one,
    # the cost and Opus strings (usage:cost:*, usage:opus:*) in one, the minute metrics.
    sources = (
        KeySource(type="hash", match="*usage:*", regex=_union(_HASH_KINDS, ("usage:", "account_usage:"))),
        KeySource(type="string", match="usage:[co]*", regex=_union(_STRING_KINDS, ("usage:",))),
        KeySource(type="hash", match="system:metrics:minute:*", regex=_union(_HASH_KINDS, ("system:metrics:",))),
    )
    tables = ("usage_rollups",)
    needs_ttl = True

    def decode(self, key: str, value: Any, expire_at_ms: int | None) -> UsageValue:
        parsed = parse_key(key)
        if parsed is None:
            raise DataError(f"{key}: not a usage key")
        kind, pk = parsed
        if kind.role == HASH:
            if not isinstance(value, dict):
                raise DataError(f"{key}: not a hash")
            cols, extra = decode_hash(key, kind, value)
        else:
            if not isinstance(value, str):
                raise DataError(f"{key}: not a string value")
            cost = decode_cost(key, value)
            cols, extra = {"rated_cost" if kind.role == COST else "real_cost": cost}, value
        expires = expire_at_ms if expire_at_ms is not None and expire_at_ms >= 0 else None   # -1: no TTL
        return UsageValue(key, kind, pk, value, expires, cols, extra)

    def check(self, record: UsageValue, checker: Any) -> None:
        row = dict(zip(PK, record.pk))
        row.update(record.cols)
        if record.kind.role == HASH:
            row["hash_extra"] = record.extra
        else:
            row["cost_text" if record.kind.role == COST else "real_cost_text"] = record.extra
        checker.check("usage_rollups", row, record.key)

    def key_of(self, record: UsageValue) -> str:
        return record.key

    def write_mysql(self, cur: Any, records: Sequence[UsageValue]) -> None:
        """Absolute upserts, one multi-row statement per role, rows in primary-key order (lock order)."""
        groups: dict[str, list[tuple[Any, ...]]] = {}
        for r in sorted(records, key=lambda r: (r.pk, r.kind.role)):
            role = r.kind.role
            if role == HASH:
                model_costs = r.kind.shape is not None and r.kind.shape.micro
                columns = COUNTERS + (("real_cost", "rated_cost") if model_costs else ())
                sql = UPSERT_USAGE_MODEL_HASHES if model_costs else UPSERT_USAGE_HASHES
            else:
                columns = ("rated_cost",) if role == COST else ("real_cost",)
                sql = UPSERT_USAGE_COSTS if role == COST else UPSERT_USAGE_REAL_COSTS
            # DECIMAL and DATETIME values as their SQL text: bulk.py's fast path quotes a str directly
            expires = ttl.expiry_of(r.expires_ms)
            groups.setdefault(sql, []).append(
                (*r.pk, *(format(v, "f") if type(v) is Decimal else v for v in (r.cols[c] for c in columns)), r.extra,
                 None if expires is None else expires.isoformat(" ", "milliseconds"), role))
        for sql, rows in groups.items():
            executemany(cur, sql, rows)

    def delete_mysql(self, cur: Any, keys: Sequence[str]) -> None:
        by_clear: dict[tuple[str, int], list[Pk]] = {}
        for key in keys:
            parsed = parse_key(key)
            if parsed is None:
                continue
            kind, pk = parsed
            clear = ("model_hash" if kind.shape is not None and kind.shape.micro else "hash") if kind.role == HASH \
                else "cost" if kind.role == COST else "real"
            by_clear.setdefault((clear, kind.role), []).append(pk)
        touched: list[Pk] = []
        for (clear, bit), pks in sorted(by_clear.items()):
            pks.sort()
            cur.execute(CLEAR_USAGE_ROLE.format(clear=_CLEAR[clear], bit=bit, rows=_rows_in(len(pks))),
                        [v for pk in pks for v in pk])
            touched += pks
        if touched:
            touched = sorted(set(touched))
            cur.execute(DELETE_EMPTY_USAGE_ROLLUPS.format(rows=_rows_in(len(touched))),
                        [v for pk in touched for v in pk])

    def _pages(self, pool: MySQLPool, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        rows = pool.fetchall(SELECT_FIRST_USAGE_ROLLUPS, [batch_size])
        while rows:
            yield rows
            rows = pool.fetchall(SELECT_USAGE_ROLLUPS_AFTER, {**dict(zip(PK, _pk_of(rows[-1]))), "limit": batch_size})

    def mysql_keys(self, pool: MySQLPool, batch_size: int) -> Iterator[list[str]]:
        now = ttl.now_ms()
        for rows in self._pages(pool, batch_size):
            keys = [v.key for row in rows for v in values_of_row(row, now)]
            if keys:
                yield keys

    def read_mysql(self, pool: MySQLPool, keys: Sequence[str]) -> dict[str, UsageValue]:
        wanted = set(keys)
        pks = sorted({parsed[1] for parsed in map(parse_key, keys) if parsed is not None})
        out: dict[str, UsageValue] = {}
        now = ttl.now_ms()
        for start in range(0, len(pks), 1000):
            part = pks[start:start + 1000]
            rows = pool.fetchall(SELECT_USAGE_ROLLUPS_BY_PKS.format(rows=_rows_in(len(part))),
                                 [v for pk in part for v in pk])
            for row in rows:
                for value in values_of_row(row, now):
                    if value.key in wanted:
                        out[value.key] = value
        return out

    def write_redis(self, pipe: Any, k: Keys, records: Sequence[UsageValue]) -> None:
        """Each key with its expiry (PEXPIREAT: the same instant), then its index sets as the DAO adds them.

        An index expires with its latest member (the DAO arms both in one MULTI): NX arms it for the
        first member, GT moves it on for later ones, across batches.
        """
        p = k.prefix
        for r in records:
            full = p + r.key
            if isinstance(r.value, dict):
                if not r.value:
                    continue
                pipe.hset(full, mapping=r.value)
            else:
                pipe.set(full, r.value)
            ttl.queue_expiry(pipe, full, r.expires_ms)
            if r.kind.indexes is not None:
                owner, model, bucket = r.pk[1], r.pk[4], r.pk[3]
                for index, member in r.kind.indexes(owner, model, bucket):
                    pipe.sadd(p + index, member)
                    if index != _K.usage_model_monthly_months:
                        ttl.queue_expiry(pipe, p + index, r.expires_ms, nx=True)
                        ttl.queue_expiry(pipe, p + index, r.expires_ms, gt=True)

    def compare(self, redis_record: UsageValue, mysql_record: UsageValue) -> list[str]:
        """Field by field (hash) or the value (string), and the expiry (ttl.same_expiry)."""
        a, b = redis_record.value, mysql_record.value
        if isinstance(a, dict) and isinstance(b, dict):
            diff = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
        else:
            diff = [] if a == b else ["value"]
        if not ttl.same_expiry(redis_record.expires_ms, mysql_record.expires_ms):
            diff.append("ttl")
        return diff


def keys_recorded(key_id: str, *, model: str, at: Any = None, real_cost: float = 0.0, account_id: str | None = None,
                  account_type: str | None = None, weekly_reset_day: int | None = None,
                  weekly_reset_hour: int | None = None, offset_hours: int = 8, **_: Any) -> list[str]:
    """The relative keys of this family (and apikey:{id}) one RedisUsage.record() call may have changed.

    With at=None record() used its own clock: the buckets of now and of a few seconds earlier are
    both listed (copying a key that did not change is harmless, every copy is absolute). An Opus
    request without the key's reset day/hour lists the week of every possible reset.
    """
    from ... import usage_rules as rules
    from ...timefmt import utcnow

    instants = [at] if at is not None else [utcnow(), utcnow() - timedelta(seconds=5)]
    out: dict[str, None] = {_K.api_key(key_id): None}
    for instant in instants:
        ev = rules.usage_event(key_id, model=model, real_cost=real_cost, account_id=account_id,
                               account_type=account_type, at=instant, offset_hours=offset_hours)
        b, m, aid = ev.buckets, ev.model, ev.account_id
        names = [_K.usage_total(key_id), _K.usage_daily(key_id, b.day), _K.usage_monthly(key_id, b.month),
                 _K.usage_hourly(key_id, b.hour), _K.usage_model_daily(m, b.day), _K.usage_model_monthly(m, b.month),
                 _K.usage_model_hourly(m, b.hour), _K.usage_key_model_daily(key_id, m, b.day),
                 _K.usage_key_model_monthly(key_id, m, b.month), _K.usage_key_model_hourly(key_id, m, b.hour),
                 _K.usage_key_model_alltime(key_id, m), _K.system_metrics_minute(b.minute), _K.usage_global_total,
                 _K.usage_global_daily(b.day), _K.usage_global_monthly(b.month)]
        if ev.real_cost > 0:
            names += [_K.cost_daily(key_id, b.day), _K.cost_monthly(key_id, b.month), _K.cost_hourly(key_id, b.hour),
                      _K.cost_total(key_id), _K.cost_real_total(key_id), _K.cost_real_daily(key_id, b.day)]
        if ev.opus:
            if weekly_reset_day is not None and weekly_reset_hour is not None:
                periods = [rules.weekly_period(ev.at, offset_hours, weekly_reset_day, weekly_reset_hour)]
            else:
                periods = sorted({rules.weekly_period(ev.at, offset_hours, d, h) for d in range(1, 8) for h in range(24)})
            names += [_K.opus_total(key_id), _K.opus_real_total(key_id)]
            for period in periods:
                names += [_K.opus_weekly(key_id, period), _K.opus_real_weekly(key_id, period)]
        if aid is not None:
            names += [_K.account_usage_total(aid), _K.account_usage_daily(aid, b.day),
                      _K.account_usage_monthly(aid, b.month), _K.account_usage_hourly(aid, b.hour),
                      _K.account_usage_model_daily(aid, m, b.day), _K.account_usage_model_monthly(aid, m, b.month),
                      _K.account_usage_model_hourly(aid, m, b.hour)]
        out.update(dict.fromkeys(names))
    return list(out)

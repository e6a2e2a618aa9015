"""The benchmark report: pytest-benchmark JSON in, a Markdown + JSON table of targets out.

Percentiles come from the raw samples: `--benchmark-json` always writes every round's time in
`stats.data` (pytest-benchmark includes the data in --benchmark-json output unconditionally;
`--benchmark-save-data` only matters for --benchmark-save/--benchmark-autosave files). A sample is
one call when `stats.iterations` is 1, which is the case for every relaystore case (each call is far
above the timer's resolution); when pytest-benchmark batched calls, a sample is the mean of
`iterations` calls and the report says so, since its p99 then understates the tail.
p50 and p99 are linearly interpolated order statistics (numpy's default); ops/s is 1/mean for one
client, and operations-per-round / mean round time for throughput cases.

Cases name their backend in `extra_info["backend"]` (else the `mysql`/`redis` test parameter) and
their path in the benchmark group. The paths, and the targets, are the two tables below.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInput

BACKENDS = ("mysql", "redis")

# Benchmark group -> what it measures; a path without results is reported as "not measured".
PATHS: dict[str, str] = {
    "auth": "authenticate() of a random existing key",
    "auth.point_read": "one indexed lookup of one small value (SELECT id by hash / HGET hash_map)",
    "usage.record": "usage record() of one request into every rollup",
    "lease.acquire_release": "concurrency lease acquire + release",
    "scheduler.read": "schedulable accounts read: list_schedulable() of one platform (160 accounts)",
    "report.query": "one usage report query: a key's last 30 days by day",
    "floor": "bare round trip: SELECT 1 / PING",
}
THROUGHPUT_GROUP = "throughput"  # auth with 8 client threads; ops/s per backend
SCALE_GROUP = "scale"            # auth p50 on the 10,000-key set and on the full set


@dataclass(frozen=True)
class Target:
    """One promise of the design card: `metric` of `path` must be <= limit (or >= for "min")."""

    name: str
    path: str
    metric: str      # mysql_redis_p50 | mysql_floor_p50 | scale_p50 | mysql_redis_ops
    limit: float
    kind: str = "max"  # "max": value <= limit passes; "min": value >= limit passes

    def passes(self, value: float) -> bool:
        return value <= self.limit if self.kind == "max" else value >= self.limit

    def describe(self) -> str:
        return f"{'<=' if self.kind == 'max' else '>='} {self.limit:g}"


# p50s from one run; the one place the targets live.
TARGETS: tuple[Target, ...] = (
    Target("auth: MySQL/Redis p50", "auth", "mysql_redis_p50", 1.0),
    Target("auth: MySQL/SELECT 1 p50", "auth", "mysql_floor_p50", 1.5),
    Target("usage record: MySQL/Redis p50", "usage.record", "mysql_redis_p50", 1.0),
    Target("lease acquire+release: MySQL/Redis p50", "lease.acquire_release", "mysql_redis_p50", 1.5),
    Target("scale: MySQL auth p50 full set / 10,000 keys", SCALE_GROUP, "scale_p50", 1.1),
    Target("throughput (8 threads): MySQL/Redis auth ops/s", THROUGHPUT_GROUP, "mysql_redis_ops", 0.8, "min"),
)


def percentile(samples: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method); samples need not be sorted."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Measure:
    """One benchmark's numbers, in seconds (p50/p99/mean) and operations per second."""

    group: str
    backend: str
    name: str
    p50: float
    p99: float | None
    mean: float
    ops: float
    rounds: int
    iterations: int
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "backend": self.backend, "name": self.name, "p50_us": _us(self.p50),
                "p99_us": _us(self.p99), "mean_us": _us(self.mean), "ops_per_s": round(self.ops, 1),
                "rounds": self.rounds, "iterations": self.iterations,
                "p99_from": "samples" if self.iterations == 1 else f"means of {self.iterations} calls",
                "extra_info": self.extra}


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)


def _backend(bench: dict[str, Any]) -> str | None:
    extra = bench.get("extra_info") or {}
    if extra.get("backend") in BACKENDS:
        return str(extra["backend"])
    for value in list((bench.get("params") or {}).values()) + [bench.get("param") or ""]:
        for part in str(value).replace("[", "-").replace("]", "-").split("-"):
            if part in BACKENDS:
                return part
    return None


def measures(doc: dict[str, Any]) -> list[Measure]:
    """Every benchmark of a pytest-benchmark JSON document that names a backend."""
    out = []
    for bench in doc.get("benchmarks", []):
        backend = _backend(bench)
        stats = bench.get("stats") or {}
        if backend is None or not stats:
            continue
        data = [float(x) for x in stats.get("data") or []]
        iterations = int(stats.get("iterations") or 1)
        p50 = percentile(data, 50) if data else float(stats["median"])
        p99 = percentile(data, 99) if data else None
        mean = float(stats["mean"])
        extra = dict(bench.get("extra_info") or {})
        per_round = int(extra.get("operations_per_round") or 1)
        out.append(Measure(group=str(bench.get("group") or ""), backend=backend, name=str(bench.get("name")),
                           p50=p50, p99=p99, mean=mean, ops=per_round / mean if mean > 0 else 0.0,
                           rounds=int(stats.get("rounds") or len(data)), iterations=iterations, extra=extra))
    return out


@dataclass
class Check:
    target: Target
    value: float | None
    detail: str = ""

    @property
    def status(self) -> str:
        if self.value is None:
            return "not measured"
        return "met" if self.target.passes(self.value) else "MISSED"

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target.name, "path": self.target.path, "metric": self.target.metric,
                "limit": self.target.limit, "kind": self.target.kind,
                "value": None if self.value is None else round(self.value, 3),
                "status": self.status, "detail": self.detail}


class Report:
    """The per-path table, the throughput and scale tables, and the target checks of one run."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.measures = measures(doc)
        self.by_group: dict[str, dict[str, Measure]] = {}
        self.scale: dict[str, dict[int, Measure]] = {}
        for m in self.measures:
            if m.group == SCALE_GROUP:
                keys = int(m.extra.get("keys") or 0)
                self.scale.setdefault(m.backend, {})[keys] = m
            else:
                self.by_group.setdefault(m.group, {})[m.backend] = m
        self.checks = [self._check(t) for t in TARGETS]

    def _p50(self, group: str, backend: str) -> float | None:
        m = self.by_group.get(group, {}).get(backend)
        return None if m is None else m.p50

    def ratio(self, group: str) -> float | None:
        """MySQL p50 / Redis p50 of a path (ops/s Redis-relative for throughput)."""
        if group == THROUGHPUT_GROUP:
            pair = self.by_group.get(group, {})
            if len(pair) < 2 or pair["redis"].ops == 0:
                return None
            return pair["mysql"].ops / pair["redis"].ops
        mysql, redis_ = self._p50(group, "mysql"), self._p50(group, "redis")
        return None if mysql is None or redis_ is None or redis_ == 0 else mysql / redis_

    def floor_ratio(self, group: str, backend: str) -> float | None:
        value, floor = self._p50(group, backend), self._p50("floor", backend)
        return None if value is None or floor is None or floor == 0 else value / floor

    def scale_ratio(self, backend: str) -> tuple[float | None, str]:
        sizes = self.scale.get(backend, {})
        if len(sizes) < 2:
            return None, "needs the full set larger than 10,000 keys (RELAYSTORE_BENCH_KEYS)"
        small, large = min(sizes), max(sizes)
        return sizes[large].p50 / sizes[small].p50, f"{large:,} vs {small:,} keys"

    def _check(self, target: Target) -> Check:
        if target.metric == "mysql_floor_p50":
            return Check(target, self.floor_ratio(target.path, "mysql"))
        if target.metric == "scale_p50":
            value, detail = self.scale_ratio("mysql")
            return Check(target, value, detail)
        return Check(target, self.ratio(target.path))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "MISSED"]

    @property
    def unmeasured(self) -> list[Check]:
        return [c for c in self.checks if c.status == "not measured"]

    def machine_lines(self) -> list[str]:
        info = self.doc.get("machine_info") or {}
        cpu = info.get("cpu") or {}
        commit = self.doc.get("commit_info") or {}
        lines = [
            f"- run: {self.doc.get('datetime', '?')}, pytest-benchmark {self.doc.get('version', '?')}",
            (f"- machine: {info.get('node', '?')}, {cpu.get('brand_raw') or info.get('processor') or '?'}, "
            f"{cpu.get('count', '?')} CPUs, {info.get('system', '?')} {info.get('release', '')}"),
            f"- Python {info.get('python_version', '?')} ({info.get('python_implementation', '?')})",
        ]
        if commit:
            lines.append(f"- commit: {str(commit.get('id', '?'))[:12]}{' (dirty)' if commit.get('dirty') else ''} "
                         f"on {commit.get('branch', '?')}")
        for key, value in sorted((info.get("relaystore") or {}).items()):
            lines.append(f"- {key}: {value}")
        return lines

    def markdown(self) -> str:
        def us(v: float | None) -> str:
            return "—" if v is None else f"{v * 1e6:,.0f}"

        def x(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"

        out = ["# relaystore benchmark report", "", *self.machine_lines(), "",
               "## Paths (p50 / p99 in µs, one client; ops/s = 1 / mean)", "",
               ("| path | MySQL p50 | MySQL p99 | MySQL ops/s | Redis p50 | Redis p99 | Redis ops/s "
               "| MySQL/Redis | MySQL/floor | Redis/floor |"),
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for group in list(PATHS) + sorted(set(self.by_group) - set(PATHS) - {THROUGHPUT_GROUP}):
            pair = self.by_group.get(group, {})
            if not pair:
                out.append(f"| {group} | not measured | | | | | | | | |")
                continue
            cells = []
            for backend in BACKENDS:
                m = pair.get(backend)
                cells += [us(m.p50), us(m.p99), f"{m.ops:,.0f}"] if m else ["—", "—", "—"]
            out.append(f"| {group} | " + " | ".join(cells) + f" | {x(self.ratio(group))} | "
                       f"{x(self.floor_ratio(group, 'mysql'))} | {x(self.floor_ratio(group, 'redis'))} |")
        out += ["", "## Throughput (auth, 8 client threads)", ""]
        pair = self.by_group.get(THROUGHPUT_GROUP, {})
        if pair:
            out += ["| backend | ops/s | round p50 (ms) | round p99 (ms) | ops per round | threads |",
                    "|---|---:|---:|---:|---:|---:|"]
            for backend in BACKENDS:
                if backend in pair:
                    m = pair[backend]
                    out.append(f"| {backend} | {m.ops:,.0f} | {m.p50 * 1e3:.1f} | "
                               f"{'—' if m.p99 is None else f'{m.p99 * 1e3:.1f}'} | "
                               f"{m.extra.get('operations_per_round', 1)} | {m.extra.get('threads', '?')} |")
            out.append(f"\nMySQL/Redis ops/s: {x(self.ratio(THROUGHPUT_GROUP))}")
        else:
            out.append("not measured")
        out += ["", "## Scale (auth p50 in µs by key count)", ""]
        if self.scale:
            out += ["| backend | keys | p50 | p99 |", "|---|---:|---:|---:|"]
            for backend in BACKENDS:
                for keys, m in sorted(self.scale.get(backend, {}).items()):
                    out.append(f"| {backend} | {keys:,} | {us(m.p50)} | {us(m.p99)} |")
            for backend in BACKENDS:
                value, detail = self.scale_ratio(backend)
                out.append(f"\n{backend} full set / 10,000 keys: {x(value)} ({detail})")
        else:
            out.append("not measured")
        out += ["", "## Targets (p50, same run)", "", "| target | value | limit | status |", "|---|---:|---:|---|"]
        for c in self.checks:
            shown = "—" if c.value is None else f"{c.value:.2f}"
            status = c.status + (f" ({c.detail})" if c.detail and c.value is None else "")
            out.append(f"| {c.target.name} | {shown} | {c.target.describe()} | {status} |")
        batched = [m for m in self.measures if m.iterations > 1]
        if batched:
            out += ["", "Note: p99 of " + ", ".join(f"{m.name}" for m in batched)
                    + " is over means of several calls (pytest-benchmark batched them), so it understates the tail."]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine_info": self.doc.get("machine_info"), "commit_info": self.doc.get("commit_info"),
            "datetime": self.doc.get("datetime"),
            "paths": {group: {b: m.as_dict() for b, m in pair.items()} | {
                "mysql_redis_p50": self.ratio(group), "mysql_floor_p50": self.floor_ratio(group, "mysql"),
                "redis_floor_p50": self.floor_ratio(group, "redis")}
                for group, pair in self.by_group.items()},
            "scale": {b: {str(k): m.as_dict() for k, m in sizes.items()} for b, sizes in self.scale.items()},
            "targets": [c.as_dict() for c in self.checks],
            "not_measured_paths": [g for g in PATHS if g not in self.by_group],
        }


def load_json(path: str | Path) -> dict[str, Any]:
    """Read a --benchmark-json file; InvalidInput when it is not one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read benchmark JSON {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InvalidInput(f"{path} is not pytest-benchmark JSON (no 'benchmarks' list)")
    return doc


def exit_code(report: Report, *, strict: bool = False) -> int:
    """0 when every measured target holds (and, with strict, every target was measured), else 1."""
    return 1 if report.failed or (strict and report.unmeasured) else 0


def main(json_file: str, *, out_dir: str | None = None, strict: bool = False,
         stream: Any = None) -> int:
    """Print the Markdown report, write report.md/report.json under out_dir, return the exit code."""
    report = Report(load_json(json_file))
    text = report.markdown()
    (stream or sys.stdout).write(text)
    if out_dir:
        directory = Path(out_dir)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.md").write_text(text, encoding="utf-8")
        (directory / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return exit_code(report, strict=strict)


"""The benchmark report: percentiles from raw samples, ratios, targets and the exit code."""
from __future__ import annotations

import io
import json

import pytest

from relaystore import InvalidInput, benchreport
from relaystore.cli import main


def _bench(group, param, samples_us, *, iterations=1, **extra):
    data = [x / 1e6 for x in samples_us]
    mean = sum(data) / len(data)
    return {"group": group, "name": f"test_{group}[{param}]", "param": param, "params": {},
            "extra_info": extra, "stats": {"data": data, "mean": mean, "median": sorted(data)[len(data) // 2],
                                           "rounds": len(data), "iterations": iterations}}


def _doc(*benches):
    return {"benchmarks": list(benches), "machine_info": {"node": "box", "relaystore": {"bench keys": "10"}},
            "commit_info": {"id": "abc", "branch": "b"}, "datetime": "now", "version": "5"}


def _passing_auth():
    return [_bench("auth", "mysql", [200] * 99 + [900], backend="mysql"),
            _bench("auth", "redis", [250] * 100, backend="redis"),
            _bench("floor", "mysql", [150] * 100, backend="mysql"),
            _bench("floor", "redis", [80] * 100, backend="redis")]


def test_percentile_interpolates_between_ranks():
    samples = list(range(1, 101))  # 1..100
    assert benchreport.percentile(samples, 50) == pytest.approx(50.5)
    assert benchreport.percentile(samples, 99) == pytest.approx(99.01)
    assert benchreport.percentile([5.0], 99) == 5.0


def test_p99_comes_from_the_raw_samples_not_the_summary():
    report = benchreport.Report(_doc(*_passing_auth()))
    mysql = report.by_group["auth"]["mysql"]
    assert mysql.p50 == pytest.approx(200e-6)
    assert mysql.p99 == pytest.approx((200 + 0.01 * 700) * 1e-6)  # between the 99th and 100th sample


def test_ratios_and_targets_of_a_passing_run():
    report = benchreport.Report(_doc(*_passing_auth()))
    assert report.ratio("auth") == pytest.approx(0.8)
    assert report.floor_ratio("auth", "mysql") == pytest.approx(200 / 150)
    statuses = {c.target.name: c.status for c in report.checks}
    assert statuses["auth: MySQL/Redis p50"] == "met"
    assert statuses["auth: MySQL/SELECT 1 p50"] == "met"
    assert statuses["usage record: MySQL/Redis p50"] == "not measured"
    assert benchreport.exit_code(report) == 0
    assert benchreport.exit_code(report, strict=True) == 1


def test_a_missed_target_fails_the_run():
    benches = _passing_auth()
    benches[1] = _bench("auth", "redis", [150] * 100, backend="redis")
    report = benchreport.Report(_doc(*benches))
    assert [c.target.name for c in report.failed] == ["auth: MySQL/Redis p50"]
    assert benchreport.exit_code(report) == 1


def test_usage_lease_scheduler_and_report_paths_are_listed_with_their_targets():
    report = benchreport.Report(_doc(
        *_passing_auth(),
        _bench("usage.record", "mysql", [900] * 50, backend="mysql"),
        _bench("usage.record", "redis", [1000] * 50, backend="redis"),
        _bench("lease.acquire_release", "mysql", [800] * 50, backend="mysql"),
        _bench("lease.acquire_release", "redis", [400] * 50, backend="redis"),
        _bench("scheduler.read", "mysql", [5000] * 20, backend="mysql"),
        _bench("scheduler.read", "redis", [8000] * 20, backend="redis"),
        _bench("report.query", "mysql", [900] * 20, backend="mysql"),
        _bench("report.query", "redis", [1800] * 20, backend="redis")))
    statuses = {c.target.path: (round(c.value, 2), c.status) for c in report.checks if c.value is not None}
    assert statuses["usage.record"] == (0.9, "met")
    assert statuses["lease.acquire_release"] == (2.0, "MISSED")
    markdown = report.markdown()
    assert "| scheduler.read | 5,000 |" in markdown and "| report.query | 900 |" in markdown
    assert report.ratio("report.query") == pytest.approx(0.5)
    assert report.as_dict()["not_measured_paths"] == ["auth.point_read"]


def test_throughput_ratio_uses_operations_per_round():
    report = benchreport.Report(_doc(
        _bench("throughput", "mysql", [100_000] * 10, backend="mysql", operations_per_round=800, threads=8),
        _bench("throughput", "redis", [125_000] * 10, backend="redis", operations_per_round=800, threads=8)))
    assert report.by_group["throughput"]["mysql"].ops == pytest.approx(8000)
    check = next(c for c in report.checks if c.target.path == "throughput")
    assert check.value == pytest.approx(1.25) and check.status == "met"


def test_scale_ratio_compares_the_largest_with_the_smallest_set():
    report = benchreport.Report(_doc(_bench("scale", "mysql", [200] * 50, backend="mysql", keys=10_000),
                                     _bench("scale", "mysql", [240] * 50, backend="mysql", keys=1_000_000)))
    check = next(c for c in report.checks if c.target.metric == "scale_p50")
    assert check.value == pytest.approx(1.2) and check.status == "MISSED"
    assert "1,000,000 vs 10,000 keys" in check.detail


def test_backend_falls_back_to_the_test_parameter():
    bench = _bench("auth", "mysql", [100] * 10)
    bench["param"] = "mysql-10k"
    assert benchreport.Report(_doc(bench)).by_group["auth"]["mysql"].p50 == pytest.approx(100e-6)


def test_batched_samples_are_flagged():
    report = benchreport.Report(_doc(_bench("floor", "redis", [10] * 10, iterations=20, backend="redis")))
    assert "understates the tail" in report.markdown()
    assert report.as_dict()["paths"]["floor"]["redis"]["p99_from"] == "means of 20 calls"


def test_main_prints_and_writes_markdown_and_json(tmp_path):
    source = tmp_path / "run.json"
    source.write_text(json.dumps(_doc(*_passing_auth())))
    out = io.StringIO()
    assert benchreport.main(str(source), out_dir=str(tmp_path / "res"), stream=out) == 0
    markdown = (tmp_path / "res" / "report.md").read_text()
    assert markdown == out.getvalue()
    assert "| auth | 200 | 207 | " in markdown and "| usage.record | not measured |" in markdown
    written = json.loads((tmp_path / "res" / "report.json").read_text())
    assert written["paths"]["auth"]["mysql"]["p99_us"] == 207.0
    assert "usage.record" in written["not_measured_paths"]


def test_cli_report_needs_no_settings_and_rejects_other_json(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
    source = tmp_path / "run.json"
    source.write_text(json.dumps(_doc(*_passing_auth())))
    env_file = str(tmp_path / "absent.env")
    assert main(["--env-file", env_file, "bench-report", str(source)]) == 0
    assert main(["--env-file", env_file, "bench-report", str(source), "--strict"]) == 1
    source.write_text("{}")
    assert main(["--env-file", env_file, "bench-report", str(source)]) == 2
    assert "not pytest-benchmark JSON" in capsys.readouterr().err
    with pytest.raises(InvalidInput):
        benchreport.load_json(tmp_path / "missing.json")

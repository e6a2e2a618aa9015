"""Issue 6's must-shows over every family at once: a keyspace of >= 10,000 keys written through the
Redis DAOs survives migrate -> verify -> rollback unchanged, and a run SIGKILLed at three points in
different families completes on a re-run to exactly what an uninterrupted run writes."""
from __future__ import annotations

import io
import json
import signal
from collections import Counter

from relaystore.migrate.families import FAMILIES
from relaystore.migrate.rollback import mysql_to_redis
from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from relaystore.store import Store
from tests.conftest import base_settings
from tests.migrate.conftest import assert_dumps_equal, assert_keyspaces_equal, data_dump, keyspace, run_cli
from tests.migrate.fills import all_fills, fill_all

ROUND_TRIP_KEYS = 10_000


def _fill(settings, n: int, *, seed: int = 7) -> dict[str, int]:
    with Store(base_settings(database_type="redis", redis_key_prefix=settings.redis_key_prefix)) as store:
        return fill_all(store, n, seed=seed)


def _migrate(settings, log, **options):
    return migrate_redis_to_mysql(settings, Options(log_path=str(log), progress=False, **options),
                                  stderr=io.StringIO())


def test_every_family_round_trips_at_10k_keys(settings, client, make_prefix, tmp_path):
    # Every family's fill with about n records, topped up with further seeds until the keyspace
    # holds ROUND_TRIP_KEYS (fills write about n keys each, some fewer).
    n = ROUND_TRIP_KEYS // len(all_fills())
    original: dict = {}
    for seed in range(7, 12):
        _fill(settings, n, seed=seed)
        original = keyspace(client, settings.redis_key_prefix)
        if len(original) >= ROUND_TRIP_KEYS:
            break
        n = max(10, (ROUND_TRIP_KEYS - len(original)) * 12 // (10 * len(all_fills())))
    assert len(original) >= ROUND_TRIP_KEYS, len(original)

    summary = _migrate(settings, tmp_path / "m.log", workers=2)
    assert summary.exit_code == 0
    assert all(f.totals.skipped == f.totals.failed == 0 for f in summary.families)

    out = io.StringIO()
    diffs = verify(settings, out=out)
    assert all(d.clean for d in diffs), out.getvalue()
    counts = {d.name: (d.redis_count, d.mysql_count) for d in diffs}
    assert set(counts) == set(FAMILIES)
    empty = sorted(name for name, (redis_count, _) in counts.items() if redis_count == 0)
    assert not empty, f"no test data for families {empty}: add tests/migrate/fill_<family>.py"

    target = base_settings(mysql_database=settings.mysql_database, redis_key_prefix=make_prefix())
    mysql_to_redis(target, log_path=str(tmp_path / "r.log"), progress=False, stderr=io.StringIO())
    rolled = keyspace(client, target.redis_key_prefix)
    # Keys of short TTL (leases, 1-minute windows) may expire on both sides while the test runs:
    # every other key must come back, and nothing that was not there.
    lasting = {key for key, (_, _, ttl) in original.items() if ttl < 0 or ttl > 600}
    assert set(rolled) <= set(original) and lasting <= set(rolled), sorted(lasting - set(rolled))[:5]
    # TTLs re-armed to a full period on every upstream write (an API key's 365 days) restart at the
    # rollback, so they may be as many seconds longer as the test took to get here.
    assert_keyspaces_equal({k: v for k, v in original.items() if k in rolled}, rolled, ttl_tolerance=120)


def _batch_families(log) -> list[str]:
    """The family of each batch of a single-process run, in batch-number order."""
    return [line["family"] for line in map(json.loads, log.read_text().splitlines()) if line["event"] == "batch"]


def _outlast_the_test(client, prefix: str, extra_ms: int = 3_600_000) -> None:
    """Add an hour to every TTL under an hour: runs compared minutes apart must see the same keys."""
    names = list(client.scan_iter(match=prefix + "*", count=1000))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.pttl(name)
    for name, pttl in zip(names, pipe.execute()):
        if 0 < pttl < extra_ms:
            pipe.pexpire(name, pttl + extra_ms)
    pipe.execute()


def test_kills_at_three_points_in_different_families_complete_on_rerun(settings, client, make_database, tmp_path):
    _fill(settings, 60)
    _outlast_the_test(client, settings.redis_key_prefix)
    reference = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
    assert _migrate(reference, tmp_path / "ref.log", batch_size=20).exit_code == 0
    expected = data_dump(reference, reference.mysql_database)
    order = _batch_families(tmp_path / "ref.log")
    families = list(dict.fromkeys(order))
    # Three kill points: in the first, a middle and the last family (fewer families: more points in
    # the first), each at a family's second batch where it has one, at a different stage each time.
    chosen = list(dict.fromkeys([families[0], families[len(families) // 2], families[-1]]))
    chosen += [families[0]] * (3 - len(chosen))
    points = []
    for n, (family, stage) in enumerate(zip(chosen, ("committed", "written", "read"))):
        first = order.index(family) + 1
        batch = first + min(n if family == families[0] else 1, Counter(order)[family] - 1)
        points.append((batch, stage))
    assert len(set(points)) == 3 and {order[b - 1] for b, _ in points} == set(chosen), (points, order)

    for batch, stage in points:
        target = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
        log = tmp_path / f"kill-{batch}.log"
        killed = run_cli(target, "migrate", "redis-to-mysql", "--batch-size", "20", "--no-progress",
                         "--log-file", str(log), "--kill-at", f"{batch}:{stage}")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(_batch_families(log)) == batch - 1          # it died inside the intended batch
        rerun = run_cli(target, "migrate", "redis-to-mysql", "--batch-size", "20", "--no-progress",
                        "--log-file", str(log))
        assert rerun.returncode == 0, rerun.stderr
        out = io.StringIO()
        assert all(d.clean for d in verify(target, out=out)), out.getvalue()
        assert_dumps_equal(data_dump(target, target.mysql_database), expected)


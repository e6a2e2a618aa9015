"""A migration SIGKILLed at any point completes on a re-run, to exactly what an uninterrupted run writes."""
from __future__ import annotations

import io
import json
import signal

import pytest

from relaystore.migrate.run import Options, migrate_redis_to_mysql
from relaystore.migrate.verify import verify
from tests.conftest import base_settings
from tests.migrate.conftest import data_dump, run_cli


@pytest.mark.parametrize("kill_at", ["1:committed", "3:written", "6:read"])
def test_killed_migration_completes_on_rerun(settings, populated, make_database, tmp_path, kill_at):
    keys = populated(500)
    log = tmp_path / "m.log"
    killed = run_cli(settings, "migrate", "redis-to-mysql", "--batch-size", "50", "--no-progress",
                     "--log-file", str(log), "--kill-at", kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    batch, _, stage = kill_at.partition(":")
    logged = sum(line["written"] for line in map(json.loads, log.read_text().splitlines())
                 if line["event"] == "batch")
    assert logged == 50 * (int(batch) - 1)                       # the kill landed in the intended batch ...
    in_mysql = 50 * int(batch) if stage == "committed" else 50 * (int(batch) - 1)
    assert len(data_dump(settings, settings.mysql_database)["api_keys"]) == in_mysql   # ... and stage
    rerun = run_cli(settings, "migrate", "redis-to-mysql", "--batch-size", "50", "--no-progress",
                    "--log-file", str(log))
    assert rerun.returncode == 0, rerun.stderr
    assert all(d.clean for d in verify(settings, out=io.StringIO()))
    reference = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
    migrate_redis_to_mysql(reference, Options(log_path=str(tmp_path / "ref.log"), progress=False),
                           stderr=io.StringIO())
    assert data_dump(settings, settings.mysql_database) == data_dump(reference, reference.mysql_database)
    assert len(data_dump(settings, settings.mysql_database)["api_keys"]) == len(keys)


def test_killed_run_with_worker_processes_completes_on_rerun(settings, populated, make_database, tmp_path):
    """Two workers: one SIGKILLs the run mid-transaction; orphaned workers exit; a re-run completes."""
    keys = populated(400)
    log = tmp_path / "w.log"
    killed = run_cli(settings, "migrate", "redis-to-mysql", "--batch-size", "25", "--workers", "2",
                     "--no-progress", "--log-file", str(log), "--kill-at", "5:written")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(data_dump(settings, settings.mysql_database)["api_keys"]) < len(keys)
    rerun = run_cli(settings, "migrate", "redis-to-mysql", "--batch-size", "25", "--workers", "2",
                    "--no-progress", "--log-file", str(log))
    assert rerun.returncode == 0, rerun.stderr
    assert all(d.clean for d in verify(settings, out=io.StringIO()))
    reference = base_settings(mysql_database=make_database(), redis_key_prefix=settings.redis_key_prefix)
    migrate_redis_to_mysql(reference, Options(log_path=str(tmp_path / "ref.log"), progress=False),
                           stderr=io.StringIO())
    assert data_dump(settings, settings.mysql_database) == data_dump(reference, reference.mysql_database)

"""scripts/relay_sim.py, the cutover rehearsal's stand-in relay: in dual mode, every request it
counts reaches MySQL exactly once, and what it prints is what it counted."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from relaystore.mysql.pool import MySQLPool
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings

ROOT = Path(__file__).resolve().parents[1]

# The writer's key-level totals (model '' is the key's own row, not a per-model row).
SELECT_SIM_TOTALS = """
    SELECT COALESCE(SUM(r.requests), 0) AS requests, COALESCE(SUM(r.input_tokens), 0) AS tokens
    FROM usage_rollups r JOIN api_keys k ON k.id = r.owner_id
    WHERE k.name LIKE 'relay sim %' AND r.scope = 'k' AND r.period = 'T' AND r.model = ''
"""


def test_dual_mode_writer_counts_reach_mysql_exactly(mysql_database, redis_prefix):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_", "DATABASE_", "DUAL_"))}
    env.update({"PYTHONPATH": str(ROOT), "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "DATABASE_TYPE": "dual",
                "DUAL_READ_FROM": "redis", "MYSQL_DATABASE": mysql_database, "REDIS_KEY_PREFIX": redis_prefix})
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "relay_sim.py"), "1.5", "--keys", "3",
                          "--env-file", os.devnull], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    match = re.fullmatch(r"relay sim: (\d+) requests, (\d+) input tokens, (\d+) keys\n", run.stdout)
    assert match, run.stdout
    requests, tokens = int(match[1]), int(match[2])
    assert requests > 0
    pool = MySQLPool(base_settings(mysql_database=mysql_database))
    try:
        row = pool.fetchone(SELECT_SIM_TOTALS)
    finally:
        pool.close()
    assert (int(row["requests"]), int(row["tokens"])) == (requests, tokens)

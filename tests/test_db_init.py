"""scripts/db_init.sh: creates database, schema and seed; a second run changes nothing and exits 0."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from relaystore.mysql.schema import drop_database
from tests.conftest import TEST_ENCRYPTION_KEY, base_settings

ROOT = Path(__file__).resolve().parents[1]


def _run(database: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "MYSQL_DATABASE": database, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(ROOT / "scripts" / "db_init.sh")], env=env, capture_output=True,
                          text=True, timeout=120)


def test_db_init_twice_second_run_has_nothing_to_do(mysql_database):
    database = f"relaystore_init_{uuid.uuid4().hex[:8]}"
    try:
        first = _run(database)
        assert first.returncode == 0, first.stderr
        assert f"created database {database}" in first.stdout and "api_keys" in first.stdout
        second = _run(database)
        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("nothing to do"), second.stdout
    finally:
        drop_database(base_settings(), database)

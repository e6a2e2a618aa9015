"""fill(): per-account side state through the Redis DAO: balances (TTL), scripts, test history (TTL), last test."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.migrate.fill_common import key_count

PLATFORMS = ["claude", "claude-console", "openai-responses", "gemini-api", "bedrock"]


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """About n Redis keys (about 4 per account); returns how many it created."""
    rng = random.Random(seed)
    before = key_count(store)
    dao = store.account_state
    now = utcnow()
    pipe = store.redis.pipeline(transaction=False)
    prefix = store.settings.redis_key_prefix
    for i in range(max(n // 4, 1)):
        platform, account_id = PLATFORMS[i % len(PLATFORMS)], str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if i % 2 == 0:
            dao.set_balance(platform, account_id, balance=rng.choice([None, 0, 12.5, 1e-7, 123456789.25]),
                            currency=rng.choice(["USD", "CNY", ""]), status=rng.choice(["success", "error"]),
                            error_message=rng.choice(["", "超时 ✗"]), raw_data=rng.choice([None, {"a": [1, 2]}]),
                            quota=rng.choice([None, {"left": 3}]), ttl_seconds=rng.choice([3600, 90, 86400]))
        if i % 3 == 0:
            dao.set_local_balance(platform, account_id, rng.choice([{}, {"estimated": 1.25, "unit": "USD"}]))
        if i % 4 == 0:
            dao.set_balance_script(platform, account_id, rng.choice([{}, {"url": "https://x", "script": "return 1;"}]))
        for j in range(rng.randint(0, 7)):   # more than 5 are trimmed to the newest 5
            dao.add_test_result(platform, account_id, rng.choice(
                [{"ok": True, "ms": j * 10}, "not json ✗", "", {"error": "timeout", "at": now.isoformat()}]))
        if i % 2 == 1:
            dao.set_last_test(platform, account_id, now - timedelta(seconds=rng.randint(0, 10**6)))
        if i % 6 == 5:   # upstream's test config: relaystore's DAO does not write it
            pipe.set(f"{prefix}account:test_config:{platform}:{account_id}", '{"model":"x","prompt":"hi ✓"}',
                     ex=365 * 86400)
        if i % 17 == 9:
            dao.delete_balance(platform, account_id)
    pipe.execute()
    return key_count(store) - before

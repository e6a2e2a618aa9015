"""fill(store, n): about n rate_limit:{part}:{keyId} keys written through the Redis DAO as a relay would."""
from __future__ import annotations

import random
import uuid

from relaystore.store import Store

COSTS = (0.1, 0.2, 1.5, 0.000123, 0.003, 12.345678, 0.0)


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Windows of 10 min to 1 day with requests, tokens and rated cost counted (some at their limit), plus
    upstream's TTL-less leftovers: tokens/cost added after a window ended (written raw: relaystore's DAO
    refuses to). Returns the keys created."""
    rng = random.Random(seed)
    limits = store.rate_limits
    created = 0
    windows = max(1, n // 4)
    for i in range(windows):
        key_id = str(uuid.UUID(int=rng.getrandbits(128))) if i % 11 else f"odd*[{i}]:id"
        minutes = rng.choice((10, 60, 1440, 12.5, 30))   # windows outlast a slow test
        for _ in range(rng.randint(1, 4)):
            result = limits.check_and_increment(key_id, window_minutes=minutes, max_requests=rng.choice((0, 2, 100)),
                                                max_tokens=rng.choice((0, 5000)), max_cost=rng.choice((0, 1.0)))
            if result.allowed and rng.random() < 0.8:
                limits.add_usage(key_id, tokens=rng.choice((0, 1, 1234, 10**9)), cost=rng.choice(COSTS))
        created += 4
    prefix = store.settings.redis_key_prefix
    leftovers = max(1, n // 40)
    for i in range(leftovers):
        key_id = str(uuid.UUID(int=rng.getrandbits(128)))
        store.redis.incrby(f"{prefix}rate_limit:tokens:{key_id}", rng.randint(1, 5000))
        created += 1
        if i % 2:
            store.redis.incrbyfloat(f"{prefix}rate_limit:cost:{key_id}", rng.choice(COSTS[:-1]))
            created += 1
    return created

"""fill(store, n): about n concurrency:{keyId} lease sets written through the Redis DAO as a relay would."""
from __future__ import annotations

import random
import uuid

from relaystore.limit_rules import account_lease_id
from relaystore.store import Store

# Key ids upstream produces (uuids, console accounts) and odd-but-valid ones: glob characters,
# spaces, colons, the word "queue" (concurrency:queue is a lease set, concurrency:queue:x is not).
ODD_IDS = ("odd*id[1]?", "with space", "a:b:c", "queue", "x" * 191, "\\back")


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Live leases of varied lengths, refreshed and released ones, and expired members not yet pruned
    (written raw: through the DAO that takes waiting). TTLs are minutes long, so a slow test does not see
    keys expire between its snapshot and its copy. Returns the keys created."""
    rng = random.Random(seed)
    leases = store.leases
    ids = [account_lease_id(f"acct-{i}") if i % 4 == 0 else str(uuid.UUID(int=rng.getrandbits(128)))
           for i in range(max(0, n - len(ODD_IDS)))]
    ids += list(ODD_IDS[:n])
    created = 0
    seconds, micros = store.redis.time()
    now_ms = seconds * 1000 + micros // 1000
    for i, key_id in enumerate(ids):
        held = []
        for _ in range(rng.randint(1, 4)):
            request = str(uuid.UUID(int=rng.getrandbits(128)))
            ttl = rng.choice((300, 600.5, 1800))
            if leases.acquire(key_id, request, limit=rng.choice((0, 3, 10)), ttl_seconds=ttl):
                held.append(request)
        if held and i % 5 == 1:
            leases.refresh(key_id, held[0], ttl_seconds=rng.choice((300, 900)))   # may shorten the set's TTL
        if i % 7 == 2:
            for request in held:
                leases.release(key_id, request)      # the set empties and disappears
            continue
        if i % 6 == 3:   # a lease that expired after the set's last write: no script has pruned it yet
            store.redis.zadd(store.keys.concurrency(key_id), {f"expired-{i}": now_ms - rng.randint(1, 20_000)})
        created += 1
    return created

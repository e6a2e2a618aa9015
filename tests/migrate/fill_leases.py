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
    (a lease of 1 ms as a set's last write: no later script prunes it). Returns the keys created."""
    rng = random.Random(seed)
    leases = store.leases
    ids = [account_lease_id(f"acct-{i}") if i % 4 == 0 else str(uuid.UUID(int=rng.getrandbits(128)))
           for i in range(max(0, n - len(ODD_IDS)))]
    ids += list(ODD_IDS[:n])
    created = 0
    for i, key_id in enumerate(ids):
        held = []
        for _ in range(rng.randint(1, 4)):
            request = str(uuid.UUID(int=rng.getrandbits(128)))
            if leases.acquire(key_id, request, limit=rng.choice((0, 3, 10)), ttl_seconds=rng.choice((300, 30, 600.5))):
                held.append(request)
        if held and i % 5 == 1:
            leases.refresh(key_id, held[0], ttl_seconds=rng.choice((60, 900)))
        if i % 7 == 2:
            for request in held:
                leases.release(key_id, request)      # the set empties and disappears
            continue
        if i % 6 == 3:
            leases.acquire(key_id, f"expired-{i}", limit=0, ttl_seconds=0.001)   # expired, left in the set
        created += 1
    return created

"""fill(store, n): about n concurrency-queue keys (waiter counters, outcome stats, wait-time lists)
written through the Redis DAO as a relay would."""
from __future__ import annotations

import random
import uuid

from relaystore.limit_rules import QUEUE_OUTCOMES
from relaystore.store import Store


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Counters with varied timeouts (some back to zero: deleted), stats with some of the six outcomes,
    per-key sample lists and the global one. Returns the keys created."""
    rng = random.Random(seed)
    queues = store.queues
    created = 0
    per_kind = max(1, n // 3)
    for i in range(per_kind):
        key_id = str(uuid.UUID(int=rng.getrandbits(128))) if i % 4 else f"console_account:q{i}"
        entered = rng.randint(1, 4)
        for _ in range(entered):
            queues.enter(key_id, timeout_ms=rng.choice((270_000, 300_000, 617_284)))   # TTLs of 5 to 11 min
        left = rng.randint(0, entered)
        for _ in range(left):
            queues.leave(key_id)
        created += left < entered
    for i in range(per_kind):
        key_id = str(uuid.UUID(int=rng.getrandbits(128)))
        for outcome in rng.sample(QUEUE_OUTCOMES, rng.randint(1, 4)):
            for _ in range(rng.randint(1, 3)):
                queues.record_stat(key_id, outcome)
        created += 1
    global_list = False
    for i in range(per_kind):
        key_id = str(uuid.UUID(int=rng.getrandbits(128))) if i % 9 else f"odd*[{i}] id"
        include_global = i % 3 == 0
        for _ in range(rng.randint(1, 6)):
            queues.record_wait(key_id, rng.choice((0, 1, 250, 59_999, rng.randint(0, 10**7))),
                               include_global=include_global)
        global_list = global_list or include_global
        created += 1
    return created + global_list

"""fill(store, n): about n request_detail:item:* keys (+ their day ZSETs) through the Redis DAO."""
from __future__ import annotations

import random
from datetime import timedelta

from relaystore.store import Store
from relaystore.timefmt import utcnow


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Captures spread over five UTC days, some replaced in place; one retention per day, as a relay
    has one setting at a time (the day ZSET's TTL follows its latest put). Returns the keys created."""
    rng = random.Random(seed)
    dao = store.request_details
    now = utcnow()
    days: set[str] = set()
    items = max(1, n - 5)
    for i in range(items):
        back = i % 5
        at = (now - timedelta(days=back)).replace(hour=rng.randint(0, 23), minute=rng.randint(0, 59))
        detail = {"requestId": f"rd_{seed}_{i:06d}", "timestamp": at, "model": rng.choice(["claude-3", "gpt-4o"]),
                  "status": rng.choice([200, 429, 500]), "body": rng.choice(["", "héllo 👋", {"m": [1, 2.5]}]),
                  "tokens": {"in": i, "out": i * 2}, "latencyMs": rng.random() * 1000}
        dao.put(detail, retention_hours=6 + back)
        if i % 11 == 0:
            dao.put({**detail, "status": 201}, retention_hours=6 + back)   # replaced, same day
        days.add(at.strftime("%Y-%m-%d"))
    return items + len(days)

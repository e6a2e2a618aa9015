"""fill(store, n): about n user:{id} / username:{name} keys through the Redis users DAO."""
from __future__ import annotations

import random
from datetime import timedelta

from relaystore.store import Store
from relaystore.timefmt import utcnow

NAMES = ["alice", "bøb", "用户", "emoji 🙂", "o'brien", 'quote"d', "back\\slash", "tab\tname", "x" * 180]


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """Users with optional fields set and unset, unknown upstream fields, logins, soft deletes and
    purges; every user has a username key, so a user is two keys. Returns the keys created."""
    rng = random.Random(seed)
    dao = store.users
    now = utcnow()
    created = []
    for i in range(max(1, n // 2)):
        fields = {"role": rng.choice(["user", "admin", "viewer"]),
                  "email": rng.choice([None, "", f"u{i}@example.com", "ünï@例え.jp"]),
                  "display_name": rng.choice([None, "", f"User {i} ✨"])}
        if i % 3 == 0:
            fields["first_name"], fields["last_name"] = "Ada", rng.choice(["", "Lovelace"])
        user = dao.create(f"{rng.choice(NAMES)} {seed}-{i}", user_id=f"{seed:04x}{i:028x}", **fields)
        if i % 4 == 1:
            dao.update(user.id, last_login_at=now - timedelta(minutes=rng.randint(0, 9999)), api_key_count=i % 7,
                       total_usage={"requests": i, "inputTokens": i * 10, "outputTokens": 0, "totalCost": i / 8},
                       extra={"someFutureField": f"kept {i}", "nested": {"a": [1, 2.5, None]}})
        elif i % 4 == 2:
            dao.update(user.id, is_active=False)
        created.append(user)
    purged = 0
    doomed = [user for i, user in enumerate(created) if i % 97 == 5][:8]   # each delete SCANs the keyspace
    for i, user in enumerate(doomed):
        dao.delete(user.id)
        if i % 2:
            dao.purge(user.id)
            purged += 1
    return 2 * (len(created) - purged)

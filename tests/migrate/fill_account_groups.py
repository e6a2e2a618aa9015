"""fill(): account groups and their members through the Redis DAO (both families: members need groups)."""
from __future__ import annotations

import random
import uuid

from relaystore.account_rules import GROUP_PLATFORMS
from relaystore.store import Store
from tests.migrate.fill_common import key_count

NAMES = ["team", "组 ✓", "it's \"quoted\"", "line\nbreak"]


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """About n Redis keys: group hashes, member SETs, reverse-index SETs, the account_groups SET."""
    rng = random.Random(seed)
    before = key_count(store)
    dao = store.account_groups
    platforms = sorted(GROUP_PLATFORMS)
    # Each group makes its hash, its member SET and a reverse SET per member: about 2 + members keys.
    groups = []
    for i in range(max(n // 6, 2)):
        extra = {"proxy": {"type": "http", "host": "proxy", "port": 8080}, "proxyPriority": "1"} if i % 3 == 0 else {}
        groups.append(dao.create(platforms[i % len(platforms)], f"{rng.choice(NAMES)} {i}",
                                 rng.choice(["", "desc"]), **extra))
    accounts = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(n // 3, 4))]
    for i, group in enumerate(groups):
        for account_id in rng.sample(accounts, rng.randint(0, min(6, len(accounts)))):
            dao.add_member(group.id, account_id)
        if i % 5 == 1:
            dao.update(group.id, name=f"renamed {i} ✓", description="")
        if i % 7 == 3:
            for account_id in dao.members(group.id):
                dao.remove_member(group.id, account_id)
            if i % 2:
                dao.delete(group.id)
    return key_count(store) - before

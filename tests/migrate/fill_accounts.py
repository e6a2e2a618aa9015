"""fill(): accounts of every platform through the Redis DAO, with the variety a relay produces."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from relaystore.account_rules import PLATFORMS
from relaystore.store import Store
from relaystore.timefmt import utcnow
from tests.migrate.fill_common import key_count

NAMES = ["main", "it's \"quoted\"", "emoji 🔑 账号", "back\\slash", "", "line\nbreak", "x" * 300]
STATUSES = ["active", "error", "unauthorized", "rate_limited", "Temp_Error", "状态"]


def _fields(platform: str, rng: random.Random, i: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": f"{rng.choice(NAMES)} {i}", "description": rng.choice(["", "desc", "描述 ✓"]),
        "priority": rng.choice([1, 50, 100, -3]), "account_type": rng.choice(["shared", "shared", "dedicated", "group"]),
        "is_active": rng.random() > 0.2, "schedulable": rng.random() > 0.1,
    }
    if platform == "bedrock":
        fields.update(region=rng.choice(["us-east-1", "eu-west-1"]), defaultModel="claude-x",
                      awsCredentials={"accessKeyId": f"AKIA{i:08d}", "secretAccessKey": "s3cr3t/" + "k" * rng.randint(0, 40)})
        if i % 3 == 0:
            fields["bearerToken"] = f"bearer-{i}"
    elif platform in ("claude", "openai", "gemini", "droid"):
        fields.update(accessToken=f"at-{i}-✓", refreshToken=rng.choice(["", f"rt-{i}"]), expiresAt=str(1750000000000 + i),
                      scopes="user:inference user:profile", proxy=rng.choice(["", {"type": "socks5", "host": "h", "port": 1080}]))
        if platform == "claude":
            fields.update(email=f"u{i}@example.com", claudeAiOauth={"accessToken": f"at-{i}", "scopes": ["a", "b"]},
                          subscriptionInfo={"plan": "max", "n": 1.5})
    else:
        fields.update(apiKey=f"sk-{i:06d}-" + "z" * rng.randint(0, 20), apiUrl="https://api.example.com/v1",
                      supportedModels=rng.choice([[], ["m1", "m2"], {"a": "b"}]), userAgent="", dailyQuota=rng.choice(["0", 10.5]))
    # Fields a newer upstream release writes and relaystore does not model: kept verbatim.
    if i % 4 == 0:
        fields["data"] = {"someFutureField": f"kept {i}", "ünïcode-name": "v", "emptyOne": ""}
    return fields


def fill(store: Store, n: int, *, seed: int = 7) -> int:
    """About n Redis keys of accounts (records plus their index and shared-pool SETs); returns how many."""
    rng = random.Random(seed)
    before = key_count(store)
    dao = store.accounts
    platforms = sorted(PLATFORMS)
    now = utcnow()
    made = []
    for i in range(max(n - 2 * len(platforms), 1)):
        platform = platforms[i % len(platforms)]
        made.append(dao.create(platform, **_fields(platform, rng, i)))
    for i, account in enumerate(made):
        if i % 5 == 1:
            dao.update(account.platform, account.id, last_used_at=now - timedelta(minutes=rng.randint(0, 9999)),
                       status=rng.choice(STATUSES), error_message=rng.choice(["", "429 too many", "错误"]))
        if i % 7 == 2:
            dao.update(account.platform, account.id, account_type="dedicated" if account.account_type == "shared"
                       else "shared", rateLimitedAt=now.isoformat(), data={"someFutureField": None})
        if i % 23 == 5:
            dao.delete(account.platform, account.id)
    return key_count(store) - before

"""Who has an open /ws socket right now, across every web process.

The gateway already keeps one slot per authenticated socket in Redis (realtime.tickets.ConnectionSlots:
a sorted set per user scored by expiry, refreshed by every live process), so "online" is one ZCOUNT.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from redis.asyncio import Redis

from realtime.tickets import SLOTS_PREFIX


async def online_users(redis: Redis, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The subset of `user_ids` with at least one live socket slot."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    now = time.time()
    pipe = redis.pipeline(transaction=False)
    for user_id in ids:
        pipe.zcount(SLOTS_PREFIX + str(user_id), now, "+inf")
    counts = await pipe.execute()
    return {user_id for user_id, count in zip(ids, counts, strict=True) if count}

"""Sends per user per minute, counted in Redis so every web process shares one budget (atomic Lua).

A sliding window of send ids per user (a sorted set scored by time). A retry with a `clientId` already in
the window is free: it stores nothing new, so 50 concurrent retries of one message cost one send.
"""

from __future__ import annotations

import logging
import math
import time
import uuid

from litestar.exceptions import TooManyRequestsException
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("atp.messaging")

WINDOW_MS = 60_000
PREFIX = "atp:msg:rate:"

# KEYS[1] the user's window; ARGV: now (ms), window (ms), limit, member.
# Returns 0 when allowed, else the milliseconds until the oldest send leaves the window.
_LUA = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 0 end
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


async def take(redis: Redis, user_id: uuid.UUID, client_id: str | None, limit: int) -> None:
    """Count one send for `user_id`; 429 `rate_limited` with Retry-After past `limit` per minute.

    Redis unreachable: the send goes through (logged). Messages are stored in PostgreSQL; the limiter
    protects the other participants from floods and must not make messaging depend on Redis.
    """
    member = f"c:{client_id}" if client_id else f"r:{uuid.uuid4().hex}"
    try:
        wait_ms = await redis.eval(
            _LUA, 1, PREFIX + str(user_id), int(time.time() * 1000), WINDOW_MS, limit, member
        )
    except RedisError as exc:
        log.warning("messaging: rate limiter unavailable, allowing the send: %s", exc)
        return
    if wait_ms:
        retry_after = max(1, math.ceil(int(wait_ms) / 1000))
        raise TooManyRequestsException(
            detail=f"at most {limit} messages a minute; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

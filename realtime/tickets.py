"""WebSocket tickets (single use, short-lived, in Redis) and the per-user connection limit."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable

import msgspec
from redis.asyncio import Redis

from realtime.connection import Session

TICKET_PREFIX = "atp:rt:ticket:"
SLOTS_PREFIX = "atp:rt:conns:"
MAX_TICKET_TTL_S = 60
_MAX_TICKET_LENGTH = 128

_session_decoder = msgspec.json.Decoder(Session)


def _ticket_key(ticket: str) -> str:
    # Only a hash is stored: a Redis dump does not hand out usable tickets.
    return TICKET_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


async def issue_ticket(redis: Redis, session: Session, ttl_s: int) -> str:
    """A fresh opaque ticket that opens one socket as `session` within `ttl_s` (≤ 60) seconds."""
    ticket = secrets.token_urlsafe(32)
    await redis.set(_ticket_key(ticket), msgspec.json.encode(session), ex=min(ttl_s, MAX_TICKET_TTL_S))
    return ticket


async def redeem_ticket(redis: Redis, ticket: str) -> Session | None:
    """The ticket's session, consuming it (GETDEL: a second use finds nothing); None when invalid."""
    if not ticket or len(ticket) > _MAX_TICKET_LENGTH:
        return None
    raw = await redis.getdel(_ticket_key(ticket))
    if raw is None:
        return None
    try:
        return _session_decoder.decode(raw)
    except msgspec.DecodeError:
        return None


# Slots live in a sorted set per user scored by expiry, so slots of a crashed process lapse by
# themselves; live processes push their slots' expiry forward on every session check.
_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ConnectionSlots:
    """At most `limit` open sockets per user across all web processes."""

    def __init__(self, redis: Redis, limit: int, ttl_s: int = 90) -> None:
        self._redis = redis
        self._limit = limit
        self._ttl_s = ttl_s
        self._process = uuid.uuid4().hex
        self._acquire = redis.register_script(_ACQUIRE_LUA)

    def _member(self, conn_id: int) -> str:
        return f"{self._process}:{conn_id}"

    async def acquire(self, user_id: uuid.UUID, conn_id: int) -> bool:
        now = time.time()
        key = SLOTS_PREFIX + str(user_id)
        args = [now, now + self._ttl_s, self._limit, self._member(conn_id), self._ttl_s]
        return bool(await self._acquire(keys=[key], args=args))

    async def release(self, user_id: uuid.UUID, conn_id: int) -> None:
        await self._redis.zrem(SLOTS_PREFIX + str(user_id), self._member(conn_id))

    async def refresh(self, held: Iterable[tuple[uuid.UUID, int]]) -> None:
        """Extend the slots this process still holds."""
        expires = time.time() + self._ttl_s
        pipe = self._redis.pipeline(transaction=False)
        for user_id, conn_id in held:
            key = SLOTS_PREFIX + str(user_id)
            pipe.zadd(key, {self._member(conn_id): expires}, xx=True)
            pipe.expire(key, self._ttl_s)
        await pipe.execute()


class AddressSlots:
    """At most `limit` anonymous sockets per client address in this process (0 = no cap).

    Anonymous sockets have no user to count against; the address is the client's as uvicorn saw it
    (the real one behind trusted proxies with `--forwarded-allow-ips`, never a raw X-Forwarded-For).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        held = self._open.get(address, 0)
        if self._limit and held >= self._limit:
            return False
        self._open[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self._open.get(address, 0) - 1
        if held > 0:
            self._open[address] = held
        else:
            self._open.pop(address, None)

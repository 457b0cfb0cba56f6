"""The realtime runtime of one web process: Redis, fan-out hub, relay, session checks, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import msgspec
from redis.asyncio import Redis

from realtime import channels, protocol
from realtime.connection import Connection, Limits, Session
from realtime.fanout import FanoutConfig, Hub
from realtime.log import History, LogWriter
from realtime.metrics import Metrics
from realtime.outbox import PublishedHook, Relay, RelayConfig
from realtime.tickets import AddressSlots, ConnectionSlots
from realtime.typing import TypingRelay

log = logging.getLogger("atp.realtime")

# Given the sessions of open sockets, the indexes of those that must end (user disabled, token revoked).
SessionCheck = Callable[[Sequence[Session]], Awaitable[set[int]]]


class RealtimeConfig(msgspec.Struct, frozen=True, kw_only=True):
    redis_url: str
    database_url: str
    allowed_origins: tuple[str, ...] = ()
    history: History = History()
    relay: RelayConfig = RelayConfig()
    fanout: FanoutConfig = FanoutConfig()
    limits: Limits = Limits()
    max_inbound_bytes: int = 64 * 1024
    max_subscriptions: int = 100  # per connection
    max_connections_per_user: int = 20
    max_anonymous_per_address: int = 20  # per client IP and process; 0 = no cap
    ticket_ttl_s: int = 30
    session_check_s: float = 30.0  # a disabled user's sockets close within this (+ one Redis round trip)
    run_relay: bool = True
    # False forces the portable queued path (what any other ASGI server gets) even under uvicorn's
    # sans-I/O protocol: for comparing the two and running the protocol tests under both.
    raw_writes: bool = True
    # When set, /metrics answers only `Authorization: Bearer <metrics_token>` (a scraper's secret).
    metrics_token: str = ""


class Realtime:
    """Owns every realtime resource of a process; `start()` in the lifespan, `stop()` on shutdown."""

    def __init__(
        self,
        config: RealtimeConfig,
        *,
        session_check: SessionCheck | None = None,
        verification_subject: channels.SubjectLookup | None = None,
        listing_access: channels.ListingAccess | None = None,
        thread_member: channels.MemberLookup | None = None,
        on_published: PublishedHook | None = None,
    ) -> None:
        self.config = config
        self.metrics = Metrics()
        self.session_check = session_check
        self.verification_subject = verification_subject
        self.listing_access = listing_access
        self.thread_member = thread_member
        self.redis = Redis.from_url(
            config.redis_url,
            socket_timeout=5,
            socket_connect_timeout=2,
            socket_keepalive=True,
            health_check_interval=10,
            client_name=f"atp-realtime-{uuid.uuid4().hex[:8]}",
        )
        self.writer = LogWriter(self.redis, config.history)
        self.slots = ConnectionSlots(self.redis, config.max_connections_per_user)
        self.anonymous = AddressSlots(config.max_anonymous_per_address)
        self.hub = Hub(self.redis, self.metrics, config.fanout, self._last_seqs)
        self.relay = Relay(config.database_url, self.writer, self.metrics, config.relay, on_published)
        self.typing = TypingRelay(self.redis, self.hub.local_subscribers)
        self.connections: set[Connection] = set()
        self._pool: asyncpg.Pool | None = None
        self._sessions_task: asyncio.Task | None = None

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.config.database_url, min_size=0, max_size=2)
        await self.hub.start()
        self.typing.start()
        # Everything alive by now (modules, the app, routes, pools) lives as long as the process.
        # Frozen, it is skipped by the collector: a full collection then scans only objects made
        # since, instead of pausing every socket's delivery for the whole heap.
        gc.freeze()
        if self.config.run_relay:
            self.relay.start()
        self._sessions_task = asyncio.create_task(self._check_sessions_forever(), name="atp-rt-sessions")

    async def stop(self) -> None:
        if self._sessions_task is not None:
            self._sessions_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sessions_task
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.close(protocol.CLOSE_GOING_AWAY, "server shutting down")
        await self.relay.stop()
        await self.typing.stop()
        await self.hub.stop()
        if self._pool is not None:
            await self._pool.close()
        await self.redis.aclose()

    async def _last_seqs(self, names: list[str]) -> dict[str, int]:
        """The relay's counters: the current seq of channels whose Redis log is absent."""
        assert self._pool is not None
        rows = await self._pool.fetch(
            "SELECT channel, last_seq FROM realtime_channels WHERE channel = ANY($1::text[])", names
        )
        return {row["channel"]: row["last_seq"] for row in rows}

    async def _check_sessions_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.session_check_s)
            try:
                await self.check_sessions()
            except Exception as exc:  # Redis away: try again next round
                log.warning("realtime: session check failed: %s", exc)

    async def check_sessions(self) -> int:
        """Close sockets whose user was disabled or token revoked; keep live slots alive."""
        conns = [c for c in self.connections if c.session is not None and not c.closed]
        if not conns:
            return 0
        await self.slots.refresh((c.session.user_id, c.id) for c in conns if c.session)
        if self.session_check is None:
            return 0
        dead = await self.session_check([c.session for c in conns if c.session])
        for index in dead:
            await conns[index].close(protocol.CLOSE_SESSION_ENDED, "session ended")
        return len(dead)

"""How the app runs realtime: configuration from the environment, session checks, the lifespan."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar
from redis.asyncio import Redis

from app.auth.principal import revoked_family_key, revoked_jti_key, sessions_cut_key
from app.core import tracing
from app.core.db import engine
from app.listings.policy import ListingAccess, ReplayGuard
from app.messaging.policy import is_participant
from app.settings import Settings
from app.verification.queries import SubjectLookup
from realtime.connection import Limits, Session
from realtime.fanout import FanoutConfig
from realtime.log import History
from realtime.outbox import RelayConfig
from realtime.runtime import Realtime, RealtimeConfig


def realtime_config(settings: Settings, env: Mapping[str, str] | None = None) -> RealtimeConfig:
    """Realtime settings: URLs and origins from Settings, tuning from ATP_RT_* variables."""
    env = os.environ if env is None else env

    def num(name: str, default: float) -> float:
        return float(env.get(name, default))

    history = History(
        size=int(num("ATP_RT_HISTORY_SIZE", 10_000)), ttl_s=int(num("ATP_RT_HISTORY_TTL_S", 86_400))
    )
    return RealtimeConfig(
        redis_url=settings.redis_url,
        database_url=settings.database_url or engine().config["dsn"],  # same database as the app's pool
        allowed_origins=settings.ws_allowed_origins,
        history=history,
        relay=RelayConfig(
            poll_s=num("ATP_RT_RELAY_POLL_S", 2.0), lock_retry_s=num("ATP_RT_RELAY_LOCK_RETRY_S", 1.0)
        ),
        fanout=FanoutConfig(max_replay=history.size),
        limits=Limits(
            send_buffer_max=int(num("ATP_RT_SEND_BUFFER_MAX", 512 * 1024)),
            lag_close_s=num("ATP_RT_LAG_CLOSE_S", 5.0),
            socket_send_buffer=int(num("ATP_RT_SOCKET_SNDBUF", 128 * 1024)),
        ),
        max_connections_per_user=int(num("ATP_RT_MAX_CONNECTIONS_PER_USER", 20)),
        max_anonymous_per_address=int(num("ATP_RT_ANON_PER_IP", 20)),
        ticket_ttl_s=min(int(num("ATP_RT_TICKET_TTL_S", 30)), 60),
        session_check_s=num("ATP_RT_SESSION_CHECK_S", 30.0),
        run_relay=env.get("ATP_RT_RELAY", "1") != "0",
        raw_writes=env.get("ATP_RT_RAW_WRITES", "1") != "0",
        metrics_token=env.get("ATP_METRICS_TOKEN", ""),
    )


async def dead_sessions(redis: Redis, sessions: Sequence[Session]) -> set[int]:
    """Indexes of sessions whose token or log in was revoked, or whose user's sessions were cut since."""
    dead: set[int] = set()
    for start in range(0, len(sessions), 500):
        chunk = sessions[start : start + 500]
        keys = [sessions_cut_key(s.user_id) for s in chunk]
        keys += [revoked_jti_key(s.jti) if s.jti else sessions_cut_key(s.user_id) for s in chunk]
        keys += [revoked_family_key(s.family) if s.family else sessions_cut_key(s.user_id) for s in chunk]
        values = await redis.mget(keys)
        for i, session in enumerate(chunk):
            cut, revoked = values[i], values[len(chunk) + i] if session.jti else None
            if session.family and values[2 * len(chunk) + i] is not None:
                revoked = revoked or values[2 * len(chunk) + i]
            # Same rule as principal_from_token: tokens issued at or before the cut are dead. The
            # ticket was issued while the token was valid, so a cut before it spares the socket.
            if revoked is not None or (cut is not None and int(float(cut)) >= int(session.issued_at)):
                dead.add(start + i)
    return dead


@asynccontextmanager
async def realtime_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start the fan-out subscriber and the outbox relay of this process; stop them on shutdown."""
    rt = Realtime(
        realtime_config(app.state.settings),
        on_published=tracing.publish_spans if tracing.enabled() else None,
    )
    # /metrics renders the realtime registry: the app's request metrics join it there.
    if (http_metrics := app.state.get("http_metrics")) is not None:
        rt.metrics.registry.register(http_metrics.collector())
    rt.session_check = lambda sessions: dead_sessions(rt.redis, sessions)
    rt.verification_subject = SubjectLookup()  # subjects may read their own verification:<id>
    rt.listing_access = ListingAccess()  # listing:<id> only while the reader may read the listing
    rt.hub.replay_guard = ReplayGuard()  # a `since` replay only of what the reader may read now
    rt.thread_member = is_participant  # participants may read their thread:<id>
    app.state.realtime = rt
    await rt.start()
    try:
        yield
    finally:
        await rt.stop()

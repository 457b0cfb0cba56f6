"""The database engine and a unit of work that commits a change together with its events."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from piccolo.engine.postgres import PostgresEngine

from app.core import tracing
from db.piccolo_conf import DB

log = logging.getLogger("atp.outbox")

OUTBOX_NOTIFY_CHANNEL = "atp_outbox"

# Every transaction that writes outbox rows holds this advisory lock (shared) from before its rows
# take their positions until it ends. Outbox consumers take it exclusively for an instant to learn
# which positions are final (app/core/consumers.py `committed_bound`).
OUTBOX_FENCE_KEY = 0x61_74_70_6F  # "atpo"

# The fence and the rows in one round trip. `$6` turns off the commit's disk flush for this
# transaction only.
_INSERT_OUTBOX = f"""
WITH fence AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared({OUTBOX_FENCE_KEY})),
inserted AS (
    INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at, traceparent)
    SELECT e.* FROM fence,
        unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $7::text[]) AS e
)
SELECT CASE WHEN $6::bool THEN set_config('synchronous_commit', 'off', true) END
"""

# The relay's wake-up, sent after the commit in a transaction of its own. A NOTIFY takes a database-wide
# lock at commit and holds it until the commit is on disk, so every writer that notified inside its own
# transaction waited for the others' WAL flushes one after another (no group commit): sends saturated at
# ~330/s with `Lock:object` the main wait (bench/messaging.py). Alone, the notice commits without waiting
# for the disk; were it lost, the relay's poll (`ATP_RT_RELAY_POLL_S`) still finds the rows.
_WAKE_RELAY = (
    f"SELECT set_config('synchronous_commit', 'off', true), pg_notify('{OUTBOX_NOTIFY_CHANNEL}', '')"
)


def engine() -> PostgresEngine:
    return DB


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: asyncpg has already rolled back any open transaction; skip its reset query.

    The default reset (`RESET ALL`, `UNLISTEN *`, `CLOSE ALL`, `pg_advisory_unlock_all()`) is one
    more round trip on every release, i.e. on every request. Nothing of ours leaves session state on
    a pooled connection: settings are `SET LOCAL`, advisory locks are `_xact_`, cursors live inside
    transactions, and LISTEN runs on dedicated connections (relay, migrations).
    """


async def start_pool(min_size: int, max_size: int) -> None:
    """Open the process's connection pool (web and worker processes)."""
    # No idle-connection timer: asyncpg re-arms one (a `call_later`) on every release, i.e. on every
    # request (bench/http_api.py's profile); idle connections cost the server little.
    await DB.start_connection_pool(
        min_size=min_size, max_size=max_size, reset=_keep_session, max_inactive_connection_lifetime=0
    )


class PendingEvent(msgspec.Struct, frozen=True):
    event_id: uuid.UUID
    channel: str
    event_type: str
    payload_json: str
    occurred_at: datetime
    # The W3C trace context of the request or job that emitted it (None with tracing off).
    traceparent: str | None = None


@functools.cache
def event_tag(event_class: type[msgspec.Struct]) -> str:
    """An event class's wire `type` (its msgspec tag); inspecting a class costs more than the emit."""
    return msgspec.inspect.type_info(event_class).tag  # type: ignore[attr-defined]


# The connection of the unit of work the current task is inside, with that task. A read made by the same task
# (`fetch` below) runs on it instead of taking a second pooled connection: a task holding one connection while
# it waits for another deadlocks a small pool as soon as a few such tasks run at once (the worker's pool is
# 5 connections for 40 concurrent jobs; a backlog made every job wait out its 30 s timeout). Child tasks
# inherit the variable but not the ownership: they acquire their own connection, never share this one.
_unit_connection: contextvars.ContextVar[tuple[asyncio.Task | None, asyncpg.Connection] | None] = (
    contextvars.ContextVar("atp_unit_connection", default=None)
)


class UnitOfWork:
    """One transaction; events emitted inside it reach the outbox in that same transaction.

    Usage: `async with UnitOfWork() as uow: ... uow.emit(event, channels)`. On success the
    outbox rows are inserted before COMMIT and `NOTIFY atp_outbox` follows it, so the relay
    never sees an event whose change was rolled back, and never misses one that committed.
    """

    def __init__(self) -> None:
        self._transaction: Any = None
        self._events: list[PendingEvent] = []
        self.conn: asyncpg.Connection
        # False for a transaction whose loss in a database crash costs nothing (it writes only a
        # courtesy notice): its commit then returns without waiting for the WAL flush.
        self.durable = True
        self._owner_token: contextvars.Token | None = None

    async def __aenter__(self) -> UnitOfWork:
        self._transaction = DB.transaction()
        await self._transaction.__aenter__()
        self.conn = self._transaction.connection
        self._owner_token = _unit_connection.set((asyncio.current_task(), self.conn))
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        if self._owner_token is not None:
            _unit_connection.reset(self._owner_token)
            self._owner_token = None
        wrote_events = exc_type is None and bool(self._events)
        if wrote_events:
            try:
                await self._flush_events()
            except BaseException as flush_error:
                await self._transaction.__aexit__(type(flush_error), flush_error, flush_error.__traceback__)
                raise
        suppressed = await self._transaction.__aexit__(exc_type, exc, tb)
        if wrote_events:
            await _wake_relay()
        return suppressed

    def emit(self, event: msgspec.Struct, channels: Iterable[str]) -> uuid.UUID:
        """Queue `event` for each channel; it is written to the outbox at commit."""
        event_id = uuid.uuid4()
        event_type = event_tag(type(event))
        data = msgspec.to_builtins(event)
        data.pop("type", None)
        payload_json = msgspec.json.encode(data).decode()
        now = datetime.now(UTC)
        traceparent = tracing.current_traceparent()
        for channel in channels:
            self._events.append(PendingEvent(event_id, channel, event_type, payload_json, now, traceparent))
        return event_id

    async def _flush_events(self) -> None:
        events = self._events
        await self.conn.execute(
            _INSERT_OUTBOX,
            [e.event_id for e in events],
            [e.channel for e in events],
            [e.event_type for e in events],
            [e.payload_json for e in events],
            [e.occurred_at for e in events],
            not self.durable,
            [e.traceparent for e in events],
        )
        self._events = []


async def _wake_relay() -> None:
    """Tell the relay that committed outbox rows are waiting (best effort: the change is committed)."""
    try:
        await fetch(_WAKE_RELAY)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning("outbox: relay wake-up not sent (%s); its poll will find the rows", type(exc).__name__)


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run a read on a pooled connection, or on the current task's unit of work when it is inside one."""
    owner = _unit_connection.get()
    if owner is not None and owner[0] is asyncio.current_task() and not owner[1].is_closed():
        return await owner[1].fetch(sql, *args)
    pool = DB.pool
    if pool is None:
        conn = await DB.get_new_connection()
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    async with pool.acquire() as conn:
        return await conn.fetch(sql, *args)


async def fetchrow(sql: str, *args: Any) -> asyncpg.Record | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None

"""The outbox relay: committed outbox rows -> per-channel seq -> Redis log + live channel, in order.

Every web process runs one; a PostgreSQL advisory lock held on a dedicated connection makes exactly
one of them active. All of the leader's database work runs on that same connection, so a leader
whose connection died cannot number events any more, and the lock is free for another process.

Two durable steps make it idempotent: (1) seqs are assigned in one transaction together with the
per-channel counter (`realtime_channels`); (2) rows with a seq are published (the Lua script in
`log.py` skips a log append that already happened) and then marked `published_at`. A crash between
any two steps repeats at most step 2: subscribers see a repeated seq and drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime import protocol
from realtime.log import LogWriter, Published
from realtime.metrics import Metrics

log = logging.getLogger("atp.realtime.relay")

NOTIFY_CHANNEL = "atp_outbox"  # app.core.db.OUTBOX_NOTIFY_CHANNEL (a test keeps the two equal)

# Redis answers that mean "try again later", not "this event can never be published".
# (Inside a script Redis wraps them: "ERR Error running script …: OOM command not allowed …".)
_TRANSIENT_MARKERS = (
    "OOM ",
    "BUSY",
    "LOADING ",
    "READONLY ",
    "MASTERDOWN ",
    "TRYAGAIN ",
    "NOSCRIPT ",
    "CLUSTERDOWN ",
)
_MAX_POISON_TRIES = 5

_SELECT_UNSEQUENCED = """
SELECT position, channel FROM outbox_events
WHERE published_at IS NULL AND seq IS NULL
ORDER BY position LIMIT $1 FOR UPDATE
"""
_BUMP_COUNTERS = """
INSERT INTO realtime_channels (channel, last_seq)
SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (channel) DO UPDATE SET last_seq = realtime_channels.last_seq + EXCLUDED.last_seq
RETURNING channel, last_seq
"""
_SET_SEQ = """
UPDATE outbox_events o SET seq = v.seq
FROM unnest($1::bigint[], $2::int[]) AS v(position, seq) WHERE o.position = v.position
"""
_SELECT_SEQUENCED = """
SELECT position, event_id, channel, event_type, payload::text AS payload, occurred_at, seq, traceparent
FROM outbox_events WHERE published_at IS NULL AND seq IS NOT NULL
ORDER BY channel, seq LIMIT $1
"""
_MARK_PUBLISHED = "UPDATE outbox_events SET published_at = now() WHERE position = ANY($1::bigint[])"


# Told about every published batch: (rows, publish start, publish end in ns since the epoch). The app
# traces each row's publish as a span in the trace that emitted it (app/core/tracing.py).
PublishedHook = Callable[[list[asyncpg.Record], int, int], None]


class RelayConfig(msgspec.Struct, frozen=True, kw_only=True):
    lock_key: int = 72010100  # app.cli.migrate uses 72010001
    lock_retry_s: float = 1.0  # how often a standby tries to take over
    poll_s: float = 2.0  # safety net when a NOTIFY is lost (e.g. LISTEN connection replaced)
    batch: int = 500


class Relay:
    """Runs forever in the background: standby until it holds the lock, then relays."""

    def __init__(
        self,
        dsn: str,
        writer: LogWriter,
        metrics: Metrics,
        config: RelayConfig,
        on_published: PublishedHook | None = None,
    ) -> None:
        self._dsn = dsn
        self._on_published = on_published
        self._writer = writer
        self._metrics = metrics
        self._config = config
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._poison: Counter[int] = Counter()
        self.is_leader = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="atp-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._config.lock_key):
                    backoff = 0.2
                    await asyncio.sleep(self._config.lock_retry_s)
                log.info("outbox relay: this process is now the active relay")
                await self._lead(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive any single failure
                log.warning(
                    "outbox relay: %s; retrying in %.1fs",
                    exc,
                    backoff,
                    exc_info=not isinstance(
                        exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError | RedisConnectionError
                    ),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._set_leader(False)
                if conn is not None:
                    # Closing the session releases the advisory lock immediately.
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
                    if not conn.is_closed():
                        conn.terminate()

    def _set_leader(self, leader: bool) -> None:
        self.is_leader = leader
        self._metrics.relay_leader.set(1 if leader else 0)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        self._set_leader(True)
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        redis_backoff = 0.1
        while True:
            self._wake.clear()
            try:
                while await self.relay_once(conn):
                    pass
                redis_backoff = 0.1
            except (RedisConnectionError, RedisTimeoutError, OSError, _Transient) as exc:
                # Redis is away: keep the lock (nobody else could do better) and retry the same rows.
                log.warning("outbox relay: publish failed (%s); retrying in %.1fs", exc, redis_backoff)
                self._metrics.publish_failures.inc()
                await asyncio.sleep(redis_backoff)
                redis_backoff = min(redis_backoff * 2, 2.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_s)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def relay_once(self, conn: asyncpg.Connection) -> bool:
        """Number new rows, then publish one batch of numbered rows; True when there may be more."""
        assigned = await self.assign_seqs(conn)
        published = await self.publish_sequenced(conn)
        return assigned == self._config.batch or published == self._config.batch

    async def assign_seqs(self, conn: asyncpg.Connection) -> int:
        """Give committed, unnumbered rows their per-channel seq (position order), in one transaction."""
        async with conn.transaction():
            rows = await conn.fetch(_SELECT_UNSEQUENCED, self._config.batch)
            if not rows:
                return 0
            counts = Counter(row["channel"] for row in rows)
            tops = await conn.fetch(_BUMP_COUNTERS, list(counts), list(counts.values()))
            next_seq = {r["channel"]: r["last_seq"] - counts[r["channel"]] + 1 for r in tops}
            positions, seqs = [], []
            for row in rows:
                positions.append(row["position"])
                seqs.append(next_seq[row["channel"]])
                next_seq[row["channel"]] += 1
            await conn.execute(_SET_SEQ, positions, seqs)
        return len(rows)

    async def publish_sequenced(self, conn: asyncpg.Connection) -> int:
        """Publish numbered, unpublished rows (per channel in seq order) and mark them published."""
        rows = await conn.fetch(_SELECT_SEQUENCED, self._config.batch)
        if not rows:
            return 0
        events = [_to_published(row) for row in rows]
        started = time.time_ns()
        results = await self._writer.publish(events)
        finished = time.time_ns()
        done = []
        failure: BaseException | None = None
        failed_channels: set[str] = set()
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException) and not self._give_up(row, result):
                failure = failure or result
                failed_channels.add(row["channel"])
            elif row["channel"] not in failed_channels:  # never mark past a failure in one channel
                done.append(row)
        if done:
            await conn.execute(_MARK_PUBLISHED, [row["position"] for row in done])
            self._observe(done)
            if self._on_published is not None:
                try:
                    self._on_published(done, started, finished)
                except Exception:  # observing the relay must never stop it
                    log.exception("outbox relay: the publish hook failed")
        if failure is not None:
            if isinstance(failure, RedisConnectionError | RedisTimeoutError | OSError):
                raise failure
            raise _Transient(str(failure))
        return len(rows)

    def _give_up(self, row: asyncpg.Record, error: BaseException) -> bool:
        """A row Redis refuses for a non-transient reason is skipped after a few tries.

        Subscribers then see a seq gap and get `reset` (never a silent loss); later events flow on.
        """
        if not isinstance(error, ResponseError) or any(m in str(error) for m in _TRANSIENT_MARKERS):
            return False
        self._poison[row["position"]] += 1
        if self._poison[row["position"]] < _MAX_POISON_TRIES:
            return False
        del self._poison[row["position"]]
        log.error(
            "outbox relay: skipping event %s on %s seq %s: %s",
            row["event_id"],
            row["channel"],
            row["seq"],
            error,
        )
        self._metrics.events_skipped.inc()
        return True

    def _observe(self, rows: list[asyncpg.Record]) -> None:
        now = time.time()
        self._metrics.events_relayed.inc(len(rows))
        for row in rows:
            self._metrics.relay_lag.observe(max(0.0, now - row["occurred_at"].timestamp()))
        # One event goes out on several channels (a row each): count it once, under its type.
        types = Counter(row["event_type"] for row in {row["event_id"]: row for row in rows}.values())
        for event_type, count in types.items():
            self._metrics.events_by_type.labels(event_type).inc(count)


class _Transient(Exception):
    """Redis refused a publish for a reason that passes (OOM, LOADING, …)."""


def _to_published(row: asyncpg.Record) -> Published:
    occurred_at: datetime = row["occurred_at"].astimezone(UTC)
    frame = protocol.event_frame(
        channel=row["channel"],
        seq=row["seq"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        occurred_at=occurred_at,
        data=row["payload"].encode(),
    )
    return Published(channel=row["channel"], seq=row["seq"], event_id=str(row["event_id"]), frame=frame)

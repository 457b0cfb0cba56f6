"""Per-process fan-out: one Redis subscription, one framing per event, the same bytes to every socket.

Each channel with local subscribers keeps the last seq it delivered. An event with the next seq is
written to every live subscriber in one loop; a repeated seq is dropped (the relay is at-least-once);
a jump means frames were lost (e.g. the subscription dropped while Redis restarted) and the missing
ones are read back from the channel's log, or subscribers get `reset` when the log no longer has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from redis.asyncio import Redis

from realtime import protocol
from realtime.connection import Connection, Frame
from realtime.log import LIVE_PATTERN, LIVE_PREFIX, LogEntry, read_since, split_live
from realtime.metrics import Metrics

log = logging.getLogger("atp.realtime.fanout")

# channel names -> last seq assigned by the relay (PostgreSQL), for channels whose log is absent.
LastSeqLookup = Callable[[list[str]], Awaitable[dict[str, int]]]
# (reader or None, channel, frames of a replay) -> whether the reader may have them all now.
ReplayGuard = Callable[[Any, str, list[bytes]], Awaitable[bool]]


class FanoutConfig(msgspec.Struct, frozen=True, kw_only=True):
    max_replay: int = 10_000  # the most events one `since` may replay (= retained history)
    max_pending: int = 10_000  # live frames held for one subscriber while its replay runs
    replay_chunk: int = 200
    replay_drain_s: float = 10.0  # a client that cannot absorb its replay by then is closed (4008)
    sweep_s: float = 0.1  # how often slow consumers are checked


class Unavailable(Exception):
    """The log could not be read (Redis or PostgreSQL unreachable)."""


class _Joining:
    """Live frames that arrive for a subscriber while its replay is being read and sent."""

    __slots__ = ("frames", "overflow")

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.overflow = False


class _Channel:
    __slots__ = ("backlog", "joining", "live", "name", "repairing", "seq")

    def __init__(self, name: str) -> None:
        self.name = name
        self.live: dict[Connection, int] = {}  # subscriber -> the last seq it already has
        self.joining: dict[Connection, _Joining] = {}
        self.seq: int | None = None  # last seq delivered here; None until the first subscriber joined
        self.repairing = False
        self.backlog: list[tuple[int, bytes]] = []


class Hub:
    """The process-wide fan-out."""

    def __init__(self, redis: Redis, metrics: Metrics, config: FanoutConfig, last_seqs: LastSeqLookup):
        self._redis = redis
        self._metrics = metrics
        self._config = config
        self._last_seqs = last_seqs
        # Set by the app: a replay holding events its reader may not read now becomes `reset`.
        self.replay_guard: ReplayGuard | None = None
        self._channels: dict[bytes, _Channel] = {}  # keyed by the live channel's Redis name
        self._lagging: set[Connection] = set()
        self._tasks: set[asyncio.Task] = set()
        self._epoch = 0  # bumped on every (re)subscription to Redis
        self._ready = asyncio.Event()
        self._dirty: list[Connection] = []  # connections with frames queued in this loop iteration
        self._flush_handle: asyncio.Handle | None = None
        self._reader: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, wait_s: float = 5.0) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="atp-fanout-reader")
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="atp-fanout-sweeper")
        # Start serving even when Redis is down: the reader keeps trying and subscribers get repaired.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait_s)

    async def stop(self) -> None:
        for task in (self._reader, self._sweeper, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._reader, self._sweeper, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def on_pending(self, conn: Connection) -> None:
        """A connection queued its first frame of this iteration: write everything once the loop yields."""
        self._dirty.append(conn)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:  # one broken socket must not keep the others' frames back
                log.exception("realtime: flush failed for connection %s", conn.id)

    def on_lag(self, conn: Connection) -> None:
        self._lagging.add(conn)
        self._metrics.slow_consumers.labels("lagging").inc()

    # --- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, conn: Connection, name: str, since: int | None) -> None:
        """Subscribe live first, then send `subscribed`, the replay after `since` (or `reset`), then live."""
        if name in conn.subs:
            self.unsubscribe(conn, name)  # a repeated subscribe restarts from its own `since`
        key = (LIVE_PREFIX + name).encode()
        ch = self._channels.get(key)
        if ch is None:
            ch = self._channels[key] = _Channel(name)
        joining = ch.joining[conn] = _Joining()
        conn.subs[name] = ch
        self._metrics.subscriptions.inc()
        epoch = self._epoch
        try:
            read = await read_since(self._redis, name, since, self._config.max_replay)
            top = read.top if read.top is not None else (await self._last_seqs([name])).get(name, 0)
        except Exception as exc:
            self.unsubscribe(conn, name)
            raise Unavailable(str(exc)) from exc
        if ch.joining.get(conn) is not joining:
            return  # unsubscribed or disconnected meanwhile
        if ch.seq is None:
            ch.seq = top
        self._send_control(conn, name, protocol.subscribed(name, top))
        last = top
        if since is not None and since != top:
            entries = read.entries
            wanted = [e for e in entries if e.seq <= top]
            if (
                since < top
                and entries
                and entries[0].seq == since + 1
                and entries[-1].seq >= top
                and await self._may_replay(conn, name, wanted)
            ):
                if not await self._replay(conn, wanted):
                    return
            else:
                self._send_reset(conn, name, protocol.RESET_HISTORY_GAP, top)
        if ch.joining.get(conn) is not joining:
            return
        del ch.joining[conn]
        if joining.overflow:
            last = max(last, ch.seq)
            self._send_reset(conn, name, protocol.RESET_HISTORY_GAP, last)
        else:
            for frame in joining.frames:
                if frame.seq > last:
                    conn.deliver(frame, name)
                    last = frame.seq
        ch.live[conn] = last
        if epoch != self._epoch and not ch.repairing:
            self._start_repair(ch)  # Redis reconnected during the join: frames may have been lost

    async def _may_replay(self, conn: Connection, name: str, entries: list[LogEntry]) -> bool:
        """Whether the reader may have every replayed event now; if not, or unsure, they get `reset`."""
        if self.replay_guard is None:
            return True
        try:
            return await self.replay_guard(conn.session, name, [e.frame for e in entries])
        except Exception as exc:  # a reset is always a correct answer
            log.info("realtime: cannot check the replay of %s: %s", name, exc)
            return False

    async def _replay(self, conn: Connection, entries: list[LogEntry]) -> bool:
        chunk = self._config.replay_chunk
        for i in range(0, len(entries), chunk):
            if i and not await conn.drain(self._config.replay_drain_s):
                if not conn.closed:
                    self._metrics.slow_consumers.labels("closed").inc()
                    self._spawn(conn.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer"))
                return False
            for entry in entries[i : i + chunk]:
                conn.send_unchecked(entry.frame)
        self._metrics.frames_sent.inc(len(entries))
        return True

    def unsubscribe(self, conn: Connection, name: str) -> bool:
        ch = conn.subs.pop(name, None)
        if ch is None:
            return False
        ch.live.pop(conn, None)
        ch.joining.pop(conn, None)
        conn.missed.discard(name)
        self._metrics.subscriptions.dec()
        if not ch.live and not ch.joining:
            key = (LIVE_PREFIX + name).encode()
            if self._channels.get(key) is ch:
                del self._channels[key]
        return True

    def disconnect(self, conn: Connection) -> None:
        conn.release()
        for name in list(conn.subs):
            self.unsubscribe(conn, name)
        self._lagging.discard(conn)

    def local_subscribers(self, name: str) -> list[Connection]:
        """The live subscribers of `name` in this process (ephemeral frames such as typing)."""
        ch = self._channels.get((LIVE_PREFIX + name).encode())
        return list(ch.live) if ch else []

    def channel_seq(self, name: str) -> int | None:
        ch = self._channels.get((LIVE_PREFIX + name).encode())
        return ch.seq if ch else None

    # --- delivery ----------------------------------------------------------------------------

    def _on_message(self, live_name: bytes, data: bytes) -> None:
        ch = self._channels.get(live_name)
        if ch is None:
            return  # nobody here listens to this channel
        seq, payload = split_live(data)
        self._metrics.events_received.inc()
        if ch.repairing:
            ch.backlog.append((seq, payload))
        elif ch.seq is not None and seq <= ch.seq:
            return  # a relay retry: already delivered
        elif ch.seq is None or seq == ch.seq + 1:
            self._dispatch(ch, Frame(seq, payload))
        else:
            ch.backlog.append((seq, payload))
            self._start_repair(ch)

    def _dispatch(self, ch: _Channel, frame: Frame) -> None:
        seq = frame.seq
        ch.seq = seq
        name = ch.name
        sent = 0
        for conn, floor in ch.live.items():
            if seq > floor and conn.deliver(frame, name):
                sent += 1
        if ch.joining:
            cap = self._config.max_pending
            for joining in ch.joining.values():
                if len(joining.frames) < cap:
                    joining.frames.append(frame)
                else:
                    joining.overflow = True
        self._metrics.frames_sent.inc(sent)

    def _send_control(self, conn: Connection, name: str, payload: bytes) -> None:
        if not conn.send(payload) and not conn.closed:
            conn.missed.add(name)  # the client is behind: it gets `reset` for this channel once drained

    def _send_reset(self, conn: Connection, name: str, reason: str, seq: int) -> None:
        self._send_control(conn, name, protocol.reset(name, reason, seq))
        self._metrics.resets.labels(reason).inc()

    def _reset_channel(self, ch: _Channel, seq: int) -> None:
        """Frames up to `seq` are gone for good: tell every subscriber, then carry on after it."""
        log.warning("realtime: %s lost events up to seq %s; sending reset", ch.name, seq)
        for conn in ch.live:
            self._send_reset(conn, ch.name, protocol.RESET_HISTORY_GAP, seq)
            ch.live[conn] = max(ch.live[conn], seq)
        for joining in ch.joining.values():
            joining.overflow = True
        ch.seq = seq

    # --- repair ------------------------------------------------------------------------------

    def _start_repair(self, ch: _Channel) -> None:
        ch.repairing = True
        self._spawn(self._repair(ch))

    async def _repair(self, ch: _Channel) -> None:
        """Deliver what the log has after `ch.seq`, then the frames that arrived meanwhile, in order."""
        attempt, backoff = 0, 0.1
        try:
            while True:
                assert ch.seq is not None
                epoch, start = self._epoch, ch.seq
                try:
                    read = await read_since(self._redis, ch.name, start, self._config.max_replay)
                    top = read.top
                    if top is None:
                        top = (await self._last_seqs([ch.name])).get(ch.name, 0)
                except Exception as exc:
                    log.info("realtime: cannot repair %s yet: %s", ch.name, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                attempt += 1
                for entry in read.entries:
                    if entry.seq <= ch.seq:
                        continue
                    if entry.seq > ch.seq + 1:
                        self._reset_channel(ch, entry.seq - 1)  # trimmed out of the log
                    self._dispatch(ch, Frame(entry.seq, entry.frame))
                if read.top is None and top > ch.seq:
                    self._reset_channel(ch, top)  # the log itself is gone (Redis lost its data)
                if len(read.entries) >= self._config.max_replay or epoch != self._epoch:
                    continue
                self._drain_backlog(ch, final=attempt >= 2)
                if not ch.backlog:
                    return
        finally:
            if not ch.backlog:
                ch.repairing = False

    def _drain_backlog(self, ch: _Channel, *, final: bool) -> None:
        assert ch.seq is not None
        backlog = sorted(ch.backlog, key=lambda item: item[0])
        ch.backlog = []
        for i, (seq, payload) in enumerate(backlog):
            if seq <= ch.seq:
                continue
            if seq > ch.seq + 1:
                if not final:  # read the log once more before declaring the frames lost
                    ch.backlog = backlog[i:]
                    return
                self._reset_channel(ch, seq - 1)
            self._dispatch(ch, Frame(seq, payload))

    # --- background loops --------------------------------------------------------------------

    async def _read_forever(self) -> None:
        backoff = 0.1
        first = True
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(LIVE_PATTERN)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    _raise_if_cancelled()
                    if message is not None and message["type"] == "psubscribe":
                        break
                self._epoch += 1
                self._ready.set()
                if not first:
                    log.info("realtime: Redis subscription re-established; repairing channels")
                    self._metrics.redis_reconnects.inc()
                    for ch in list(self._channels.values()):
                        if ch.seq is not None and not ch.repairing:
                            self._start_repair(ch)
                first, backoff = False, 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    _raise_if_cancelled()
                    if message is not None and message["type"] == "pmessage":
                        self._on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                log.warning("realtime: Redis subscription lost (%s); reconnecting in %.1fs", exc, backoff)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._config.sweep_s)
            with contextlib.suppress(Exception):
                self.sweep()

    def sweep(self) -> None:
        """Reset slow consumers that drained; close those that did not in time."""
        now = time.monotonic()
        for conn in list(self._lagging):
            if conn.closed or conn.lagging_since is None:
                self._lagging.discard(conn)
            elif conn.recovered():
                self._lagging.discard(conn)
                conn.lagging_since = None
                for name in sorted(conn.missed):
                    ch = conn.subs.get(name)
                    if ch is not None and ch.seq is not None:
                        self._send_reset(conn, name, protocol.RESET_SLOW_CONSUMER, ch.seq)
                        if conn in ch.live:
                            ch.live[conn] = max(ch.live[conn], ch.seq)
                conn.missed.clear()
                self._metrics.slow_consumers.labels("reset").inc()
            elif now - conn.lagging_since > conn.limits.lag_close_s:
                self._lagging.discard(conn)
                self._metrics.slow_consumers.labels("closed").inc()
                self._spawn(conn.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer"))

    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _raise_if_cancelled() -> None:
    # redis-py's get_message(timeout=…) can swallow the CancelledError of a stop() that lands while it
    # waits (the task stays "cancelling" and reads on): the app's shutdown then hangs waiting for it.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

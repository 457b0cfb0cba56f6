"""The per-process fan-out hub against the session's Redis, with in-memory sockets as subscribers."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from realtime import channels, protocol
from realtime.connection import Connection, Frame, Limits
from realtime.fanout import FanoutConfig, Hub
from realtime.log import History, LogWriter, Published, live_channel, log_key
from realtime.metrics import Metrics


class MemoryConnection(Connection):
    """A subscriber whose 'socket' is a list; `backlog` pretends unsent bytes to model a slow client."""

    def __init__(self, hub: Hub, limits: Limits | None = None) -> None:
        super().__init__(None, limits or Limits(), None, hub.on_lag)
        self.wires: list[bytes] = []
        self.backlog = 0
        self.closed_with: int | None = None

    def _push(self, frame: Frame) -> None:
        self.wires.append(frame.wire)

    def buffered(self) -> int:
        return self.backlog

    async def close(self, code: int, reason: str = "") -> None:
        self.closed, self.closed_with = True, code

    def frames(self) -> list[dict]:
        return [json.loads(wire[wire.index(b"{") :]) for wire in self.wires]

    def seqs(self, channel: str) -> list[int]:
        return [f["seq"] for f in self.frames() if f["op"] == "event" and f["channel"] == channel]


@pytest.fixture
async def redis():
    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture
async def hub(redis):
    async def no_counters(names: list[str]) -> dict[str, int]:
        return {}

    hub = Hub(redis, Metrics(), FanoutConfig(sweep_s=0.02), no_counters)
    await hub.start()
    assert hub.ready
    yield hub
    await hub.stop()


def event(channel: str, seq: int) -> Published:
    frame = protocol.event_frame(
        channel=channel,
        seq=seq,
        event_id=uuid.uuid4(),
        event_type="listing.updated",
        occurred_at=datetime.now(UTC),
        data=b'{"n": %d}' % seq,
    )
    return Published(channel=channel, seq=seq, event_id=str(uuid.uuid4()), frame=frame)


async def settle(condition, within: float = 3) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_each_event_is_framed_once_and_shared_by_every_subscriber(hub, redis):
    channel = channels.listing(uuid.uuid4())
    subscribers = [MemoryConnection(hub) for _ in range(50)]
    for conn in subscribers:
        await hub.subscribe(conn, channel, None)
    writer = LogWriter(redis, History())
    await writer.publish([event(channel, 1), event(channel, 2)])
    await writer.publish([event(channel, 2)])  # a relay retry: the same seq again
    await settle(lambda: all(conn.seqs(channel) == [1, 2] for conn in subscribers))
    await asyncio.sleep(0.05)
    for conn in subscribers:
        assert conn.seqs(channel) == [1, 2]
        assert conn.wires[1] is subscribers[0].wires[1]  # the very same bytes object: encoded once


async def test_lost_live_frames_are_read_back_from_the_log(hub, redis):
    channel = channels.listing(uuid.uuid4())
    conn = MemoryConnection(hub)
    await hub.subscribe(conn, channel, None)
    writer = LogWriter(redis, History())
    await writer.publish([event(channel, 1)])
    await settle(lambda: conn.seqs(channel) == [1])
    # seq 2 reaches the log but its live message is lost (as during a subscription drop)
    await redis.xadd(log_key(channel), {"e": "x", "f": event(channel, 2).frame}, id="2-0")
    await writer.publish([event(channel, 3)])
    await settle(lambda: conn.seqs(channel) == [1, 2, 3])


async def test_frames_missing_from_the_log_too_give_reset_then_live(hub, redis):
    channel = channels.listing(uuid.uuid4())
    conn = MemoryConnection(hub)
    await hub.subscribe(conn, channel, None)
    writer = LogWriter(redis, History())
    await writer.publish([event(channel, 1)])
    await settle(lambda: conn.seqs(channel) == [1])
    await redis.publish(live_channel(channel), b"5 " + event(channel, 5).frame)  # 2..4 exist nowhere
    await settle(lambda: conn.seqs(channel) == [1, 5])
    assert {"op": "reset", "channel": channel, "reason": "history_gap", "seq": 4} in conn.frames()
    frames = conn.frames()
    reset_at = frames.index({"op": "reset", "channel": channel, "reason": "history_gap", "seq": 4})
    assert frames[reset_at + 1]["seq"] == 5


async def test_slow_consumer_is_skipped_then_reset_or_closed(hub, redis):
    channel = channels.listing(uuid.uuid4())
    limits = Limits(send_buffer_max=1000, lag_close_s=0.3)
    slow, fast, stuck = (
        MemoryConnection(hub, limits),
        MemoryConnection(hub, limits),
        MemoryConnection(hub, limits),
    )
    for conn in (slow, fast, stuck):
        await hub.subscribe(conn, channel, None)
    writer = LogWriter(redis, History())
    await writer.publish([event(channel, 1)])
    await settle(lambda: slow.seqs(channel) == [1])
    slow.backlog = stuck.backlog = 5000  # both fall behind
    await writer.publish([event(channel, 2), event(channel, 3)])
    await settle(lambda: fast.seqs(channel) == [1, 2, 3])
    assert slow.seqs(channel) == [1]  # dropped, not queued
    slow.backlog = 100  # drained
    await settle(lambda: any(f["op"] == "reset" for f in slow.frames()))
    assert slow.frames()[-1] == {"op": "reset", "channel": channel, "reason": "slow_consumer", "seq": 3}
    await writer.publish([event(channel, 4)])
    await settle(lambda: slow.seqs(channel) == [1, 4] and fast.seqs(channel) == [1, 2, 3, 4])
    await settle(lambda: stuck.closed_with == protocol.CLOSE_SLOW_CONSUMER)


async def test_subscribe_with_since_replays_the_log_exactly(hub, redis):
    channel = channels.listing(uuid.uuid4())
    writer = LogWriter(redis, History())
    await writer.publish([event(channel, seq) for seq in range(1, 8)])
    conn = MemoryConnection(hub)
    await hub.subscribe(conn, channel, 3)
    assert conn.frames()[0] == {"op": "subscribed", "channel": channel, "seq": 7}
    assert conn.seqs(channel) == [4, 5, 6, 7]
    await writer.publish([event(channel, 8)])
    await settle(lambda: conn.seqs(channel) == [4, 5, 6, 7, 8])
    hub.unsubscribe(conn, channel)
    await writer.publish([event(channel, 9)])
    await asyncio.sleep(0.1)
    assert conn.seqs(channel) == [4, 5, 6, 7, 8]


async def test_absent_log_falls_back_to_the_relay_counter(redis):
    async def counters(names: list[str]) -> dict[str, int]:
        return dict.fromkeys(names, 42)  # PostgreSQL says 42 events exist; Redis lost them all

    hub = Hub(redis, Metrics(), FanoutConfig(), counters)
    await hub.start()
    try:
        channel = channels.listing(uuid.uuid4())
        conn = MemoryConnection(hub)
        await hub.subscribe(conn, channel, 40)
        assert conn.frames() == [
            {"op": "subscribed", "channel": channel, "seq": 42},
            {"op": "reset", "channel": channel, "reason": "history_gap", "seq": 42},
        ]
    finally:
        await hub.stop()

"""The outbox relay in-process, against the session's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from app.core.db import OUTBOX_NOTIFY_CHANNEL, UnitOfWork
from app.events import ANY_EVENT, EVENT_TYPES, ListingPriceChanged
from realtime import channels
from realtime.log import History, LogWriter, log_key
from realtime.metrics import Metrics
from realtime.outbox import NOTIFY_CHANNEL, Relay, RelayConfig
from tests.realtime.test_events import sample


@pytest.fixture
async def redis():
    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture
def make_relay(redis):
    """Relays on their own lock key, so they contend only with each other."""
    key = random.randint(1_000_000, 2**31)

    def make(**config) -> Relay:
        return Relay(
            os.environ["DATABASE_URL"],
            LogWriter(redis, History()),
            Metrics(),
            RelayConfig(lock_key=key, **config),
        )

    return make


async def emit(channel: str, count: int, per_transaction: int = 1) -> list[uuid.UUID]:
    ids = []
    while len(ids) < count:
        async with UnitOfWork() as uow:
            for _ in range(min(per_transaction, count - len(ids))):
                ids.append(
                    uow.emit(
                        ListingPriceChanged(
                            listing_id=uuid.uuid4(),
                            version=len(ids) + 1,
                            old_price="1",
                            new_price="2",
                            currency="USD",
                        ),
                        [channel],
                    )
                )
    return ids


async def logged(redis: Redis, channel: str) -> list[tuple[int, str]]:
    """(seq, event id) of every entry in the channel's log."""
    return [
        (int(entry_id.split(b"-")[0]), fields[b"e"].decode())
        for entry_id, fields in await redis.xrange(log_key(channel))
    ]


async def drain(relay: Relay, conn: asyncpg.Connection) -> None:
    while await relay.relay_once(conn):
        pass


@pytest.fixture
async def conn(make_relay):
    """A connection for a test relay, after everything other tests left unpublished is published."""
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    await drain(make_relay(), connection)
    yield connection
    if not connection.is_closed():
        await connection.close()


def test_notify_channel_matches_the_unit_of_work():
    assert NOTIFY_CHANNEL == OUTBOX_NOTIFY_CHANNEL


async def test_seqs_follow_commit_order_per_channel_without_gaps(make_relay, redis, conn):
    a, b = channels.listing(uuid.uuid4()), channels.user(uuid.uuid4())
    await asyncio.gather(*(emit(ch, 15, per_transaction=3) for ch in (a, b, a, b)))  # concurrent transactions
    await drain(make_relay(batch=7), conn)  # several batches
    for channel in (a, b):
        rows = await conn.fetch(
            "SELECT event_id, seq, published_at FROM outbox_events WHERE channel = $1 ORDER BY position",
            channel,
        )
        assert [r["seq"] for r in rows] == list(range(1, 31))
        assert all(r["published_at"] is not None for r in rows)
        assert await logged(redis, channel) == [(r["seq"], str(r["event_id"])) for r in rows]
        assert await conn.fetchval("SELECT last_seq FROM realtime_channels WHERE channel = $1", channel) == 30


async def test_crash_after_partial_publish_is_repaired_once_in_order(make_relay, redis, conn):
    channel = channels.listing(uuid.uuid4())
    ids = await emit(channel, 6, per_transaction=2)
    pubsub = redis.pubsub()
    await pubsub.subscribe("atp:rt:live:" + channel)
    crashed = make_relay(batch=3)  # numbers everything in two transactions, publishes 4, then "dies"
    while await crashed.assign_seqs(conn):
        pass
    rows = await conn.fetch("SELECT * FROM outbox_events WHERE channel = $1 ORDER BY seq", channel)
    from realtime.outbox import _to_published  # the relay's own encoding, as the crashed process did it

    await crashed._writer.publish([_to_published(r) for r in [*rows[:4]]])  # published, never marked
    conn.terminate()

    successor, successor_conn = make_relay(), await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await drain(successor, successor_conn)
        published = await successor_conn.fetchval(
            "SELECT count(*) FROM outbox_events WHERE channel = $1 AND published_at IS NOT NULL", channel
        )
    finally:
        await successor_conn.close()
    assert published == 6
    assert await logged(redis, channel) == [(i + 1, str(event_id)) for i, event_id in enumerate(ids)]
    wire = []
    for _ in range(40):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if message is not None:
            wire.append(int(message["data"].split(b" ", 1)[0]))
    assert wire == [1, 2, 3, 4, 1, 2, 3, 4, 5, 6]  # at-least-once on the wire: subscribers drop repeats
    await pubsub.aclose()


async def test_only_one_relay_is_active_and_another_takes_over(make_relay, redis):
    first, second = make_relay(lock_retry_s=0.1, poll_s=0.5), make_relay(lock_retry_s=0.1, poll_s=0.5)
    first.start()
    await asyncio.sleep(0.3)
    second.start()
    try:
        await asyncio.sleep(0.3)
        assert (first.is_leader, second.is_leader) == (True, False)
        channel = channels.listing(uuid.uuid4())
        await emit(channel, 2)
        await wait_for(lambda: logged(redis, channel), 2)
        await first.stop()
        await emit(channel, 2)  # committed while nobody relays; NOTIFY goes nowhere
        await wait_for(lambda: logged(redis, channel), 4)
        assert second.is_leader
    finally:
        await first.stop()
        await second.stop()


async def wait_for(read, count: int, within: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while len(await read()) < count:
        assert asyncio.get_running_loop().time() < deadline, await read()
        await asyncio.sleep(0.05)


async def test_an_event_redis_refuses_is_skipped_and_later_events_flow(make_relay, redis, conn):
    poisoned, healthy = channels.listing(uuid.uuid4()), channels.listing(uuid.uuid4())
    await redis.set(log_key(poisoned), "not a stream")  # every write to this log fails (WRONGTYPE)
    await emit(poisoned, 1)
    await emit(healthy, 1)
    relay = make_relay()
    try:
        for _ in range(4):
            with pytest.raises(Exception, match="WRONGTYPE"):
                await relay.relay_once(conn)
        assert [seq for seq, _ in await logged(redis, healthy)] == [1]  # not held up by the other channel
        await relay.relay_once(conn)  # fifth refusal: skipped, so its subscribers see a gap and get reset
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM outbox_events WHERE channel = ANY($1) AND published_at IS NULL",
            [poisoned, healthy],
        )
        assert unpublished == 0
        assert relay._metrics.events_skipped._value.get() == 1
    finally:
        await redis.delete(log_key(poisoned))


async def test_every_event_type_survives_outbox_relay_and_log(make_relay, redis, conn):
    channel = channels.admin() + "-roundtrip-" + uuid.uuid4().hex  # any name: the relay does not judge
    events = [sample(cls) for cls in EVENT_TYPES.values()]
    async with UnitOfWork() as uow:
        for event in events:
            uow.emit(event, [channel])
    await drain(make_relay(), conn)
    frames = [msgspec.json.decode(fields[b"f"]) for _, fields in await redis.xrange(log_key(channel))]
    assert [f["seq"] for f in frames] == list(range(1, len(events) + 1))
    for frame, event in zip(frames, events, strict=True):
        assert frame["channel"] == channel
        datetime.fromisoformat(frame["occurredAt"]).astimezone(UTC)
        rebuilt = msgspec.convert({"type": frame["type"], **frame["data"]}, ANY_EVENT)
        assert rebuilt == event


async def test_publishing_survives_redis_forgetting_the_script(redis):
    from realtime.log import Published

    writer = LogWriter(redis, History())
    channel = channels.listing(uuid.uuid4())
    assert await writer.publish([Published(channel=channel, seq=1, event_id="a", frame=b"{}")]) == [1]
    await redis.script_flush()  # what a Redis restart without persistence does to loaded scripts
    assert await writer.publish([Published(channel=channel, seq=2, event_id="b", frame=b"{}")]) == [1]
    assert [seq for seq, _ in await logged(redis, channel)] == [1, 2]


async def test_the_publish_hook_sees_every_row_and_events_count_once_by_type(redis, conn):
    """The hook (the app traces publishes with it) gets each published row with its traceparent; the
    per-type counter counts an event once however many channels it went out on."""
    seen: list[tuple] = []
    metrics = Metrics()
    relay = Relay(
        os.environ["DATABASE_URL"],
        LogWriter(redis, History()),
        metrics,
        RelayConfig(lock_key=random.randint(1_000_000, 2**31)),
        lambda rows, started, finished: seen.extend(
            (r["event_id"], r["channel"], r["traceparent"], started <= finished, r["event_type"])
            for r in rows
        ),
    )
    a, b = channels.listing(uuid.uuid4()), channels.user(uuid.uuid4())
    async with UnitOfWork() as uow:
        event_id = uow.emit(
            ListingPriceChanged(
                listing_id=uuid.uuid4(), version=1, old_price="1", new_price="2", currency="USD"
            ),
            [a, b],
        )
    await drain(relay, conn)
    assert sorted(row[1:4] for row in seen if row[0] == event_id) == sorted(
        [(a, None, True), (b, None, True)]
    )
    price_changes = {row[0] for row in seen if row[4] == "listing.price_changed"}
    assert metrics.events_by_type.labels("listing.price_changed")._value.get() == len(price_changes)


async def test_a_failing_publish_hook_does_not_stop_the_relay(redis, conn):
    def broken(rows, started, finished):
        raise RuntimeError("observer bug")

    relay = Relay(
        os.environ["DATABASE_URL"],
        LogWriter(redis, History()),
        Metrics(),
        RelayConfig(lock_key=random.randint(1_000_000, 2**31)),
        broken,
    )
    channel = channels.listing(uuid.uuid4())
    ids = await emit(channel, 3)
    await drain(relay, conn)
    assert [event for _, event in await logged(redis, channel)] == [str(i) for i in ids]

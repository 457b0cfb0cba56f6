"""`/ws` across two real uvicorn processes on one Redis (API.md "Realtime")."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import time
import uuid
from datetime import datetime

import httpx
import pytest
import websockets
from redis.asyncio import Redis

from app.auth.principal import revoked_jti_key, sessions_cut_key
from realtime import channels
from tests.realtime.conftest import (
    Client,
    assert_in_order,
    emit_price_changes,
    leader_of,
    start_servers,
    ticket_for,
)


@pytest.fixture(scope="module")
async def cluster():
    servers = await start_servers(2)
    leader = await leader_of(servers)
    other = next(s for s in servers if s is not leader)
    yield leader, other  # the change goes through the relay of one process, clients sit on the other
    for server in servers:
        server.stop()


@pytest.fixture
async def redis():
    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


async def test_change_committed_through_a_reaches_clients_on_b_and_a(cluster):
    relay_process, other = cluster
    listing_id = uuid.uuid4()
    on_b = await Client.connect(other.ws)
    on_a = await Client.connect(relay_process.ws)
    for client in (on_b, on_a):
        assert await client.subscribe(channels.listing(listing_id)) == {
            "op": "subscribed",
            "channel": channels.listing(listing_id),
            "seq": 0,
        }
    await emit_price_changes(listing_id, 3)
    for client in (on_b, on_a):
        frames = await client.events(channels.listing(listing_id), 3)
        assert_in_order(frames, channels.listing(listing_id), 1, 3)
        first = frames[0]
        assert first["type"] == "listing.price_changed"
        assert first["data"]["listingId"] == str(listing_id) and first["data"]["version"] == 1
        uuid.UUID(first["id"])
        datetime.fromisoformat(first["occurredAt"])
        await client.close()


async def test_two_web_processes_deliver_every_event_exactly_once_to_sockets_on_both(cluster):
    """Per-socket seq accounting: each socket on either process holds 1..N once, in order, nothing after."""
    channel = channels.listing(listing_id := uuid.uuid4())
    clients = [await Client.connect(server.ws) for server in cluster for _ in range(6)]
    for client in clients:
        assert (await client.subscribe(channel))["op"] == "subscribed"
    total = 60
    await emit_price_changes(listing_id, total, per_transaction=4)
    for client in clients:
        assert_in_order(await client.events(channel, total), channel, 1, total)
    await asyncio.sleep(0.3)
    for client in clients:
        assert client.count(channel) == total  # no late duplicate
        await client.close()


async def test_since_replays_exactly_the_gap_then_continues_live(cluster):
    relay_process, server = cluster
    channel = channels.listing(listing_id := uuid.uuid4())
    watcher = await Client.connect(relay_process.ws)  # tells us when the relay has published
    await watcher.subscribe(channel)
    client = await Client.connect(server.ws)
    await client.subscribe(channel)
    await emit_price_changes(listing_id, 4)
    assert_in_order(await client.events(channel, 4), channel, 1, 4)
    await client.close()

    await emit_price_changes(listing_id, 3, per_transaction=3)  # seq 5..7 while disconnected
    assert_in_order(await watcher.events(channel, 7), channel, 1, 7)
    await watcher.close()
    back = await Client.connect(server.ws)
    assert await back.subscribe(channel, since=4) == {"op": "subscribed", "channel": channel, "seq": 7}
    assert_in_order(await back.events(channel, 3), channel, 5, 7)
    await emit_price_changes(listing_id, 2)
    assert_in_order(await back.events(channel, 2), channel, 8, 9)
    assert await back.quiet(0.3) == []
    # Resuming at the current seq replays nothing.
    assert await back.subscribe(channel, since=9) == {"op": "subscribed", "channel": channel, "seq": 9}
    assert await back.quiet(0.3) == []
    await back.close()


async def test_subscribing_while_events_flow_has_no_gap_and_no_duplicate(cluster):
    _, server = cluster
    channel = channels.listing(listing_id := uuid.uuid4())
    watcher = await Client.connect(server.ws)
    await watcher.subscribe(channel)

    async def emit_slowly() -> None:
        for _ in range(40):
            await emit_price_changes(listing_id, 1)
            await asyncio.sleep(0.005)

    emitter = asyncio.create_task(emit_slowly())
    seen = await watcher.events(channel, 12)
    late = await Client.connect(server.ws)
    since = seen[-1]["seq"] - 3  # resume a little behind while the relay keeps publishing
    subscribed = await late.subscribe(channel, since=since)
    await emitter
    frames = await late.events(channel, 40 - since)
    assert subscribed["seq"] >= since
    assert_in_order(frames, channel, since + 1, 40)
    fresh = await Client.connect(server.ws)
    assert (await fresh.subscribe(channel))["seq"] == 40
    for client in (watcher, late, fresh):
        await client.close()


async def test_since_older_than_history_gets_reset_then_live(cluster):
    _, server = cluster
    channel = channels.listing(listing_id := uuid.uuid4())
    watcher = await Client.connect(server.ws)
    await watcher.subscribe(channel)
    await emit_price_changes(listing_id, 250, per_transaction=250)  # servers keep ~10 (approximate trim)
    assert_in_order(await watcher.events(channel, 250), channel, 1, 250)
    await watcher.close()
    client = await Client.connect(server.ws)
    assert await client.subscribe(channel, since=1) == {"op": "subscribed", "channel": channel, "seq": 250}
    assert await client.next() == {"op": "reset", "channel": channel, "reason": "history_gap", "seq": 250}
    # A client that claims to be ahead of the server is reset too.
    await client.subscribe(channel, since=999)
    assert (await client.next())["op"] == "reset"
    await emit_price_changes(listing_id, 1)
    assert_in_order(await client.events(channel, 1), channel, 251, 251)
    await client.close()


async def test_forbidden_channel_answers_error_and_keeps_the_socket_open(cluster, tokens):
    _, server = cluster
    me, someone = uuid.uuid4(), uuid.uuid4()
    anonymous = await Client.connect(server.ws)
    answer = await anonymous.subscribe(channels.user(me))
    assert answer["op"] == "error" and answer["code"] == "forbidden"
    await anonymous.send(op="ping")
    assert await anonymous.next() == {"op": "pong"}
    assert (await anonymous.subscribe(channels.listings_feed()))["op"] == "subscribed"
    await anonymous.close()

    client = await Client.connect(server.ws + "?ticket=" + await ticket_for(server, tokens.issue(me)))
    assert (await client.subscribe(channels.user(me)))["op"] == "subscribed"
    for channel in (channels.user(someone), channels.admin(), channels.verification(uuid.uuid4())):
        answer = await client.subscribe(channel)
        assert (answer["op"], answer["code"], answer["channel"]) == ("error", "forbidden", channel)
    assert (await client.subscribe("nonsense:1"))["code"] == "bad_request"
    assert (await client.subscribe(channels.listing(uuid.uuid4()), since=-1))["code"] == "bad_request"
    await client.send(op="dance")
    assert (await client.next())["code"] == "bad_request"
    await client.ws.send("{not json")
    assert (await client.next())["code"] == "bad_request"
    await client.send(op="ping")
    assert await client.next() == {"op": "pong"}
    await client.close()

    admin = await Client.connect(
        server.ws + "?ticket=" + await ticket_for(server, tokens.issue(me, ["admin"]))
    )
    for channel in (channels.admin(), channels.user(someone), channels.verification(uuid.uuid4())):
        assert (await admin.subscribe(channel))["op"] == "subscribed"
    await admin.close()


async def test_private_events_reach_only_their_user(cluster, tokens):
    _, server = cluster
    from app.core.db import UnitOfWork
    from app.events import NotificationCreated

    me = uuid.uuid4()
    client = await Client.connect(server.ws + "?ticket=" + await ticket_for(server, tokens.issue(me)))
    await client.subscribe(channels.user(me))
    async with UnitOfWork() as uow:
        uow.emit(
            NotificationCreated(notification_id=uuid.uuid4(), kind="hold", title="Hold placed"),
            [channels.user(me)],
        )
    [frame] = await client.events(channels.user(me), 1)
    assert frame["type"] == "notification.created" and frame["data"]["title"] == "Hold placed"
    await client.close()


async def test_ticket_is_single_use_and_expires(cluster, tokens):
    _, server = cluster
    ticket = await ticket_for(server, tokens.issue(uuid.uuid4()))
    first = await Client.connect(server.ws + "?ticket=" + ticket)
    await first.send(op="ping")
    assert await first.next() == {"op": "pong"}
    reused = await Client.connect(server.ws + "?ticket=" + ticket)
    assert await reused.closed() == 4401
    forged = await Client.connect(server.ws + "?ticket=not-a-ticket")
    assert await forged.closed() == 4401
    stale = await ticket_for(server, tokens.issue(uuid.uuid4()))
    await asyncio.sleep(2.2)  # the test servers issue tickets for 2 s
    expired = await Client.connect(server.ws + "?ticket=" + stale)
    assert await expired.closed() == 4401
    await first.close()
    async with httpx.AsyncClient() as http:
        assert (await http.post(server.http + "/api/realtime/ticket")).status_code == 401


async def test_origin_allowlist_at_handshake(cluster):
    _, server = cluster
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    for origin in ("https://app.atp.test", f"http://127.0.0.1:{server.port}"):
        client = await Client.connect(server.ws, origin=origin)
        await client.send(op="ping")
        assert await client.next() == {"op": "pong"}
        await client.close()


async def test_inbound_frames_are_capped_at_64_kib(cluster):
    _, server = cluster
    client = await Client.connect(server.ws, max_size=None)
    await client.ws.send(json.dumps({"op": "ping", "pad": "x" * 60_000}))  # under the cap: fine
    assert await client.next() == {"op": "pong"}
    await client.ws.send(json.dumps({"op": "ping", "pad": "x" * 70_000}))
    assert await client.closed() == 1009


async def test_compression_is_declined(cluster):
    _, server = cluster
    async with websockets.connect(server.ws, compression="deflate") as ws:  # what browsers offer
        assert ws.protocol.extensions == []
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"op": "pong"}


async def test_per_user_connection_limit(cluster, tokens):
    _, server = cluster
    token = tokens.issue(uuid.uuid4())
    open_ = [await Client.connect(server.ws + "?ticket=" + await ticket_for(server, token)) for _ in range(3)]
    for client in open_:
        await client.send(op="ping")
        assert await client.next() == {"op": "pong"}
    fourth = await Client.connect(server.ws + "?ticket=" + await ticket_for(server, token))
    assert await fourth.closed() == 4029
    await open_[0].close()
    await asyncio.sleep(0.2)
    again = await Client.connect(server.ws + "?ticket=" + await ticket_for(server, token))
    await again.send(op="ping")
    assert await again.next() == {"op": "pong"}
    for client in [*open_[1:], again]:
        await client.close()


async def test_disabled_or_logged_out_users_sockets_are_closed(cluster, tokens, redis):
    _, server = cluster
    suspended, logged_out, bystander = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    logged_out_token = tokens.issue(logged_out)
    clients = {}
    for user, token in (
        (suspended, tokens.issue(suspended)),
        (logged_out, logged_out_token),
        (bystander, tokens.issue(bystander)),
    ):
        clients[user] = await Client.connect(server.ws + "?ticket=" + await ticket_for(server, token))
        await clients[user].send(op="ping")
        assert await clients[user].next() == {"op": "pong"}
    started = time.monotonic()
    await redis.set(sessions_cut_key(suspended), str(time.time()))  # what an admin suspension does
    await redis.set(revoked_jti_key(tokens.jti(logged_out_token)), "1")  # what logout does
    assert await clients[suspended].closed(within=5) == 4403
    assert await clients[logged_out].closed(within=5) == 4403
    assert time.monotonic() - started < 3  # the test servers check every second (production: 30 s)
    await clients[bystander].send(op="ping")
    assert await clients[bystander].next() == {"op": "pong"}
    for client in clients.values():
        await client.close()


async def test_a_stalled_client_does_not_delay_the_others(cluster):
    from app.core.db import UnitOfWork
    from app.events import NotificationCreated

    _, server = cluster
    channel = channels.listing(uuid.uuid4())
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills quickly
    sock.connect(("127.0.0.1", server.port))
    stalled = await Client.connect(server.ws, max_queue=1, sock=sock)
    await stalled.subscribe(channel)
    stalled._reader.cancel()  # stop reading: its socket fills, then the server's buffer for it
    others = [await Client.connect(server.ws) for _ in range(5)]
    for client in others:
        await client.subscribe(channel)
    total, body = 250, "x" * 16_000  # 4 MB: far more than the stalled socket and its 1 MiB allowance hold
    for _ in range(0, total, 5):
        async with UnitOfWork() as uow:
            for _ in range(5):
                uow.emit(
                    NotificationCreated(notification_id=uuid.uuid4(), kind="load", title="t", body=body),
                    [channel],
                )
        await asyncio.sleep(0.01)
    latencies = []
    for client in others:
        frames = await client.events(channel, total, within=20)
        assert_in_order(frames, channel, 1, total)
        last = frames[-1]
        latencies.append(client.arrived_at[id(last)] - datetime.fromisoformat(last["occurredAt"]).timestamp())
    closed = 0.0
    for _ in range(50):
        closed = await server.metric('atp_realtime_slow_consumers_total{action="closed"}')
        if closed >= 1:
            break
        await asyncio.sleep(0.1)
    lagging = await server.metric('atp_realtime_slow_consumers_total{action="lagging"}')
    assert closed >= 1, f"the stalled client was not cut off (lagging: {lagging})"
    # The bound we state: another client's last event lands within 1 s of its commit, stalled peer or not.
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.5
    for client in [*others, stalled]:
        await client.close()


async def test_metrics_exposes_the_realtime_series(cluster):
    relay_process, _ = cluster
    async with httpx.AsyncClient() as http:
        text = (await http.get(relay_process.http + "/metrics")).text
    for name in (
        "atp_realtime_connections",
        "atp_realtime_subscriptions",
        "atp_realtime_events_relayed_total",
        "atp_realtime_frames_sent_total",
        "atp_realtime_slow_consumers_total",
        "atp_realtime_relay_lag_seconds_bucket",
        "atp_realtime_relay_leader 1.0",
    ):
        assert name in text, name

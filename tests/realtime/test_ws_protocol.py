"""The `/ws` protocol under both write paths (issue 18), driven by the `websockets` client.

`raw`: frames written straight to uvicorn's transport (production). `queued`: the portable path every
other ASGI server gets, forced by ATP_RT_RAW_WRITES=0; that server also runs with uvicorn's default
inbound limit (16 MiB), so the 64 KiB cap it answers with is the gateway's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime

import pytest
import websockets
from redis.asyncio import Redis

from realtime import channels, protocol
from realtime.log import History, LogWriter, Published
from tests.realtime.conftest import Client, assert_in_order, start_servers

MODES = {
    "raw": ({}, 65536),
    "queued": ({"ATP_RT_RAW_WRITES": "0"}, None),
}


@pytest.fixture(scope="module", params=list(MODES))
async def server(request):
    env, ws_max_size = MODES[request.param]
    [server] = await start_servers(1, {**env, "ATP_RT_RELAY": "0"}, ws_max_size=ws_max_size)
    server.mode = request.param
    yield server
    server.stop()


async def connect(server, **kwargs) -> websockets.ClientConnection:
    return await websockets.connect(server.ws, compression=None, open_timeout=5, close_timeout=2, **kwargs)


async def closed_with(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.protocol.close_rcvd is not None, "the server dropped the socket without a close frame"
    return ws.protocol.close_rcvd.code


async def pong(ws: websockets.ClientConnection) -> None:
    await ws.send('{"op":"ping"}')
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"op": "pong"}


def event(channel: str, seq: int, size: int) -> Published:
    frame = protocol.event_frame(
        channel=channel,
        seq=seq,
        event_id=uuid.uuid4(),
        event_type="listing.updated",
        occurred_at=datetime.now(UTC),
        data=b'{"pad":"%s"}' % (b"x" * size),
    )
    return Published(channel=channel, seq=seq, event_id=str(uuid.uuid4()), frame=frame)


async def test_sockets_take_the_configured_write_path(server):
    before = await server.metric(f'atp_realtime_connections_opened_total{{path="{server.mode}"}}')
    async with await connect(server) as ws:
        await pong(ws)
    assert await server.metric(f'atp_realtime_connections_opened_total{{path="{server.mode}"}}') == before + 1


async def test_events_arrive_once_in_order_small_and_large(server):
    channel = channels.listing(uuid.uuid4())
    clients = [await Client.connect(server.ws) for _ in range(3)]
    for client in clients:
        assert (await client.subscribe(channel))["op"] == "subscribed"
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        writer = LogWriter(redis, History(size=1000))
        sizes = [10, 124, 300, 65_600, 2_000]  # 7-, 16- and 64-bit length headers; bursts coalesced
        seq = 0
        for burst in range(20):
            batch = []
            for _ in range(5):
                seq += 1
                batch.append(event(channel, seq, sizes[(seq + burst) % len(sizes)]))
            await writer.publish(batch)
            await asyncio.sleep(
                0.01
            )  # ~70 KB per burst: well under the test servers' 1 MiB slow-consumer mark
    finally:
        await redis.aclose()
    for client in clients:
        assert_in_order(await client.events(channel, 100), channel, 1, 100)
        assert await client.quiet(0.2) == []
        await client.close()


async def test_websocket_ping_is_answered_and_op_ping_gets_pong(server):
    async with await connect(server) as ws:
        latency = await asyncio.wait_for(await ws.ping(b"atp"), 5)
        assert latency >= 0
        await pong(ws)


async def test_client_close_code_is_echoed(server):
    for code in (1000, 4000):
        ws = await connect(server)
        await pong(ws)
        await ws.close(code=code, reason="bye")
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == code


async def test_bad_ticket_closes_4401_and_bad_origin_is_refused(server):
    ws = await websockets.connect(server.ws + "?ticket=forged", compression=None, open_timeout=5)
    assert await closed_with(ws) == protocol.CLOSE_UNAUTHORIZED
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws, origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_oversized_frame_closes_1009(server):
    ws = await connect(server, max_size=None)
    await ws.send(json.dumps({"op": "ping", "pad": "x" * 60_000}))  # under the cap: answered
    assert json.loads(await ws.recv()) == {"op": "pong"}
    await ws.send(json.dumps({"op": "ping", "pad": "x" * 70_000}))
    assert await closed_with(ws) == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_fragmented_frames_are_joined_and_capped_as_one_message(server):
    ws = await connect(server)
    await ws.send(iter(['{"op":', '"ping",', '"pad":"', "y" * 1000, '"}']))  # five frames, one message
    assert json.loads(await ws.recv()) == {"op": "pong"}
    await ws.send(iter(['{"op":"ping","pad":"', *["z" * 30_000] * 3, '"}']))  # each under 64 KiB, not all
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    # The server refuses while fragments are still arriving: its close can be overtaken by the TCP
    # reset that closing with unread input causes. When the close frame does arrive, it says 1009.
    received = ws.protocol.close_rcvd
    assert received is None or received.code == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_invalid_utf8_text_closes_1007(server):
    ws = await connect(server)
    await pong(ws)
    await ws.send(b'{"op":"ping","x":"\xff\xfe"}', text=True)
    assert await closed_with(ws) == 1007


async def test_binary_and_malformed_frames_get_bad_request_and_the_socket_stays(server):
    async with await connect(server) as ws:
        await ws.send(b'{"op":"ping"}')
        answer = json.loads(await ws.recv())
        assert (answer["op"], answer["code"]) == ("error", "bad_request")
        await ws.send("{not json")
        assert json.loads(await ws.recv())["code"] == "bad_request"
        await pong(ws)

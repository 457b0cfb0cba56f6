"""Guard (issue 18): under the pinned uvicorn, every `/ws` socket of the real app gets the raw connection.

The raw path finds uvicorn's sans-I/O protocol by walking ASGI `send` closures through the app's
middleware (realtime/connection.find_sansio_protocol). An upgrade of uvicorn or a middleware that hides
`send` would make sockets fall back to the queued path, which still works, silently at about twice the
CPU per delivery; this test turns that into a failure.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
import uuid
from datetime import UTC, datetime

import uvicorn
import websockets
from redis.asyncio import Redis

from app.cli.services import free_port
from realtime import channels, protocol
from realtime.connection import RawConnection
from realtime.log import History, LogWriter, Published
from tests.realtime.conftest import ROOT


def pinned_uvicorn() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [dep for dep in project["dependencies"] if dep.startswith("uvicorn")]
    return pin.split("==")[1]


def test_the_installed_uvicorn_is_the_pinned_one():
    assert uvicorn.__version__ == pinned_uvicorn()


async def test_the_app_under_uvicorn_writes_every_socket_raw(app, client, redis_url):
    """create_app() with all its middleware, served as the Procfile does (uvicorn defaults)."""
    rt = app.state.realtime
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    redis = Redis.from_url(redis_url)
    try:
        while not server.started:
            assert not serving.done(), serving.result()
            await asyncio.sleep(0.02)
        before = set(rt.connections)
        channel = channels.listing(uuid.uuid4())
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
            assert json.loads(await ws.recv())["op"] == "subscribed"
            [conn] = rt.connections - before
            assert isinstance(conn, RawConnection), f"{type(conn).__name__}: the raw path was not found"
            frame = protocol.event_frame(
                channel=channel,
                seq=1,
                event_id=uuid.uuid4(),
                event_type="listing.updated",
                occurred_at=datetime.now(UTC),
                data=b"{}",
            )
            await LogWriter(redis, History()).publish(
                [Published(channel=channel, seq=1, event_id=str(uuid.uuid4()), frame=frame)]
            )
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["seq"] == 1  # written raw, arrived
    finally:
        await redis.aclose()
        server.should_exit = True
        await asyncio.wait_for(serving, 10)

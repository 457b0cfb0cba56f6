"""The Python WebSocket servers bench/fanout.py compares; run one per process: `python bench/fanout_servers.py NAME PORT`.

- ours:   ATP's realtime gateway (realtime/) in a Litestar app under uvicorn, fed through the Redis log.
- peer:   Litestar's stock ChannelsPlugin, Redis pub/sub backend, its generated WebSocket handler.
- limit:  a bare `websockets` server that relays each Redis message with `websockets.broadcast`.
- picows: a bare picows server (Cython framing, no ASGI) that sends each Redis message to every socket:
          the Python floor.
Both Litestar servers run under the same uvicorn settings (uvloop, httptools, websockets sans-I/O).
The Node socket.io peer is bench/socketio/server.js.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_CHANNEL = "bench"
PEER_CHANNEL = "listings"


def ours_app():
    from litestar import Litestar

    from app.realtime.service import realtime_lifespan
    from app.settings import load_settings
    from realtime.gateway import ROUTE_HANDLERS

    app = Litestar(route_handlers=list(ROUTE_HANDLERS), lifespan=[realtime_lifespan])
    app.state.settings = load_settings()
    return app


def peer_app():
    from litestar import Litestar
    from litestar.channels import ChannelsPlugin
    from litestar.channels.backends.redis import RedisChannelsPubSubBackend
    from redis.asyncio import Redis

    backend = RedisChannelsPubSubBackend(redis=Redis.from_url(os.environ["REDIS_URL"]))
    plugin = ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        create_ws_route_handlers=True,
        ws_handler_base_path="/ws",
    )
    return Litestar(plugins=[plugin])


async def run_limit(port: int) -> None:
    import websockets
    from redis.asyncio import Redis
    from websockets.asyncio.server import broadcast, serve

    connections: set = set()

    async def handler(ws) -> None:
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    async def relay() -> None:
        redis = Redis.from_url(os.environ["REDIS_URL"])
        pubsub = redis.pubsub()
        await pubsub.subscribe(LIMIT_CHANNEL)
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(connections, message["data"].decode())

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536):
        assert websockets
        await relay()


async def run_picows(port: int) -> None:
    from picows import WSListener, WSMsgType, ws_create_server
    from redis.asyncio import Redis

    connections: set = set()

    class Listener(WSListener):
        def on_ws_connected(self, transport) -> None:
            connections.add(transport)

        def on_ws_disconnected(self, transport) -> None:
            connections.discard(transport)

        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    await ws_create_server(lambda request: Listener(), "127.0.0.1", port, backlog=4096, max_frame_size=65536)
    redis = Redis.from_url(os.environ["REDIS_URL"])
    pubsub = redis.pubsub()
    await pubsub.subscribe(LIMIT_CHANNEL)
    async for message in pubsub.listen():
        if message["type"] == "message":
            data = message["data"]
            for transport in connections:
                transport.send(WSMsgType.TEXT, data)


def main() -> None:
    name, port = sys.argv[1], int(sys.argv[2])
    if name in ("limit", "picows"):
        import uvloop

        uvloop.run(run_limit(port) if name == "limit" else run_picows(port))
        return
    import uvicorn

    factory = {"ours": ours_app, "peer": peer_app}[name]
    uvicorn.run(
        factory,
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        ws_max_size=65536,
        backlog=4096,
    )


if __name__ == "__main__":
    main()

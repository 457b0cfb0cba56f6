"""A WebSocket client that drives the ASGI app directly: no uvicorn transport, same event loop."""

from __future__ import annotations

import asyncio
import json


class AsgiWebSocket:
    """Opens `path` on `app` as an ASGI websocket scope; frames are JSON text."""

    def __init__(
        self,
        app,
        path: str,
        query: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        subprotocols: tuple[str, ...] = (),
    ) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("testserver", 80),
            "client": client,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver")],
            "subprotocols": list(subprotocols),
            "state": {},
            "extensions": {},
        }
        self.task = asyncio.create_task(app(scope, self.inbox.get, self.outbox.put))

    async def open(self) -> dict:
        await self.inbox.put({"type": "websocket.connect"})
        return await asyncio.wait_for(self.outbox.get(), 5)

    async def send(self, op: dict) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(op)})

    async def receive(self, wait_s: float = 10) -> dict:
        message = await asyncio.wait_for(self.outbox.get(), wait_s)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def ask(self, op: dict) -> dict:
        """Send one op and return the next frame."""
        await self.send(op)
        return await self.receive(wait_s=5)

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)

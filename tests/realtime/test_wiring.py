"""create_app() serves realtime: the ticket endpoint, `/ws` and `/metrics` (in-process, portable path)."""

from __future__ import annotations

import asyncio
import json


class AsgiWebSocket:
    """Drives the ASGI app directly: no uvicorn transport, so the gateway uses its queued writer."""

    def __init__(self, app, path: str, query: str = "") -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver")],
            "subprotocols": [],
            "state": {},
            "extensions": {},
        }
        self.task = asyncio.create_task(app(scope, self.inbox.get, self.outbox.put))

    async def open(self) -> dict:
        await self.inbox.put({"type": "websocket.connect"})
        return await asyncio.wait_for(self.outbox.get(), 5)

    async def ask(self, op: dict) -> dict:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(op)})
        message = await asyncio.wait_for(self.outbox.get(), 5)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


async def test_create_app_wires_ticket_socket_and_metrics(app, client, accounts):
    assert {"/ws", "/api/realtime/ticket", "/metrics"} <= {route.path for route in app.routes}
    user = await accounts.create("buyer")
    assert (await client.post("/api/realtime/ticket")).status_code == 401
    response = await client.post("/api/realtime/ticket", headers=user["headers"])
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"ticket", "expiresIn"} and 0 < body["expiresIn"] <= 60

    ws = AsgiWebSocket(app, "/ws", f"ticket={body['ticket']}")
    assert (await ws.open())["type"] == "websocket.accept"
    assert await ws.ask({"op": "subscribe", "channel": f"user:{user['id']}"}) == {
        "op": "subscribed",
        "channel": f"user:{user['id']}",
        "seq": 0,
    }
    answer = await ws.ask({"op": "subscribe", "channel": "admin"})
    assert (answer["op"], answer["code"]) == ("error", "forbidden")
    assert await ws.ask({"op": "ping"}) == {"op": "pong"}
    await ws.close()

    reused = AsgiWebSocket(app, "/ws", f"ticket={body['ticket']}")
    assert (await reused.open())["type"] == "websocket.accept"
    assert (await asyncio.wait_for(reused.outbox.get(), 5))["code"] == 4401
    await reused.close()

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "atp_realtime_connections" in metrics.text

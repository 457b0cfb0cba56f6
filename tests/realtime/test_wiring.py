"""create_app() serves realtime: the ticket endpoint, `/ws` and `/metrics` (in-process, portable path)."""

from __future__ import annotations

import asyncio

import msgspec

from tests.asgi_ws import AsgiWebSocket


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


async def test_metrics_token_guards_the_scrape_endpoint_when_set(app, client):
    rt = app.state.realtime
    original = rt.config
    rt.config = msgspec.structs.replace(original, metrics_token="scrape-secret-1")
    try:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-2"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("application/problem+json")
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
        assert right.status_code == 200 and "atp_realtime_connections" in right.text
    finally:
        rt.config = original

"""create_app() serves realtime: the ticket endpoint, `/ws` and `/metrics` (in-process, portable path)."""

from __future__ import annotations

import asyncio


async def test_create_app_wires_ticket_socket_and_metrics(client, accounts):
    paths = {route.path for route in client.app.routes}
    assert {"/ws", "/api/realtime/ticket", "/metrics"} <= paths
    user = await accounts.create("buyer")
    assert (await client.post("/api/realtime/ticket")).status_code == 401
    response = await client.post("/api/realtime/ticket", headers=user["headers"])
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"ticket", "expiresIn"} and body["expiresIn"] <= 60

    def talk() -> list[dict]:
        # The test client has no uvicorn transport: this exercises the queued (ASGI send) writer.
        with client.websocket_connect(f"/ws?ticket={body['ticket']}") as ws:
            answers = []
            for op in ({"op": "subscribe", "channel": f"user:{user['id']}"},
                       {"op": "subscribe", "channel": "admin"}, {"op": "ping"}):
                ws.send_json(op)
                answers.append(ws.receive_json())
            return answers

    session = await client.websocket_connect(f"/ws?ticket={body['ticket']}")
    session.close()  # (the first use spends the ticket)
    response = await client.post("/api/realtime/ticket", headers=user["headers"])
    body = response.json()
    answers = await asyncio.to_thread(talk)
    assert answers[0] == {"op": "subscribed", "channel": f"user:{user['id']}", "seq": 0}
    assert (answers[1]["op"], answers[1]["code"]) == ("error", "forbidden")
    assert answers[2] == {"op": "pong"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "atp_realtime_connections" in metrics.text

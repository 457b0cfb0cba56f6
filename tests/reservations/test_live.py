"""A WebSocket client on `listing:<id>` sees every hold placed, released and expired, in order."""

from __future__ import annotations

import uuid

from app.reservations import service
from tests.asgi_ws import AsgiWebSocket
from tests.conftest import relay_caught_up
from tests.reservations.conftest import backdate_hold


async def test_listing_subscriber_sees_placed_released_expired_in_order(app, client, people, listing, relay):
    await relay_caught_up()
    channel = f"listing:{listing['id']}"
    ws = AsgiWebSocket(app, "/ws")
    assert (await ws.open())["type"] == "websocket.accept"
    await ws.send({"op": "subscribe", "channel": channel})
    assert (await ws.receive())["op"] == "subscribed"

    buyer = await people.create()
    url = f"/api/listings/{listing['id']}/holds"
    first = (await client.post(url, json={}, headers=buyer["headers"])).json()
    await client.delete(f"/api/holds/{first['id']}", headers=buyer["headers"])
    second = (await client.post(url, json={}, headers=buyer["headers"])).json()
    await backdate_hold(second["id"])
    await service.expire_hold(uuid.UUID(second["id"]))

    wanted = [("hold.placed", first["id"]), ("hold.released", first["id"])]
    wanted += [("hold.placed", second["id"]), ("hold.expired", second["id"])]
    seen, seqs = [], []
    while len(seen) < len(wanted):
        frame = await ws.receive()
        assert frame["op"] == "event", frame
        seqs.append(frame["seq"])
        if frame["type"].startswith("hold."):
            seen.append((frame["type"], frame["data"]["holdId"]))
    assert seen == wanted
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no duplicate
    await ws.close()

"""Subscriptions over `graphql-transport-ws` on /graphql: fed by the `/ws` fan-out, resumable by seq."""

from __future__ import annotations

import asyncio

import pytest

from tests.asgi_ws import AsgiWebSocket
from tests.graphql.conftest import create_listing

# Live events need the in-process relay, which the browser and realtime packages switch off for the session.
pytestmark = pytest.mark.usefixtures("relay")

UPDATED = """subscription($id: ID!, $since: Int) {
  listingUpdated(id: $id, since: $since) { seq type listingId listing { price version } data }
}"""


async def _open(app) -> AsgiWebSocket:
    ws = AsgiWebSocket(app, "/graphql", subprotocols=("graphql-transport-ws",))
    accepted = await ws.open()
    assert accepted["type"] == "websocket.accept" and accepted.get("subprotocol") == "graphql-transport-ws"
    assert await ws.ask({"type": "connection_init", "payload": {}}) == {"type": "connection_ack"}
    return ws


async def _next_of_type(ws: AsgiWebSocket, wanted: str) -> dict:
    while True:
        message = await ws.receive(wait_s=15)
        assert message["type"] == "next", message
        event = message["payload"]["data"]["listingUpdated"]
        if event["type"] == wanted:
            return event


async def _reprice(gql, seller, listing_id: str, price: str) -> None:
    await gql.ok(
        """mutation($id: ID!, $p: Decimal!) { updateAircraftListing(id: $id, input: {price: $p}) { version } }""",
        {"id": listing_id, "p": price},
        seller,
    )


async def test_a_subscription_sees_a_price_change_and_resumes_after_a_reconnect(app, gql, seller):
    listing = await create_listing(gql, seller)
    ws = await _open(app)
    await ws.send(
        {"id": "1", "type": "subscribe", "payload": {"query": UPDATED, "variables": {"id": listing["id"]}}}
    )
    await asyncio.sleep(0.3)  # the hub subscription is in place
    await _reprice(gql, seller, listing["id"], "800000.00")
    changed = await _next_of_type(ws, "listing.price_changed")
    assert changed["data"]["newPrice"] == "800000.00"
    updated = await _next_of_type(ws, "listing.updated")
    assert updated["listing"]["price"] == "800000.00" and updated["seq"] == changed["seq"] + 1
    await ws.close()

    # Away: another change happens; back with `since`, it is replayed, then live continues.
    await _reprice(gql, seller, listing["id"], "790000.00")
    ws = await _open(app)
    variables = {"id": listing["id"], "since": updated["seq"]}
    await ws.send({"id": "2", "type": "subscribe", "payload": {"query": UPDATED, "variables": variables}})
    missed = await _next_of_type(ws, "listing.updated")
    assert missed["listing"]["price"] == "790000.00" and missed["seq"] > updated["seq"]
    await ws.close()


async def test_a_gap_in_history_is_a_clear_error(app, gql, seller):
    listing = await create_listing(gql, seller)
    ws = await _open(app)
    variables = {"id": listing["id"], "since": 10_000}  # ahead of anything the channel has
    await ws.send({"id": "1", "type": "subscribe", "payload": {"query": UPDATED, "variables": variables}})
    message = await ws.receive(wait_s=15)
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "history_gap"
    await ws.close()


async def test_another_sellers_draft_cannot_be_followed(app, gql, seller):
    draft = await create_listing(gql, seller, draft=True)
    ws = await _open(app)
    await ws.send(
        {"id": "1", "type": "subscribe", "payload": {"query": UPDATED, "variables": {"id": draft["id"]}}}
    )
    message = await ws.receive(wait_s=15)
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "forbidden"
    await ws.close()


async def test_the_feed_is_narrowed_by_the_filter(app, gql, seller):
    feed = """subscription { listingsFeed(filter: {manufacturer: ["Extra"]}) { type listing { manufacturer tailNumber } } }"""
    ws = await _open(app)
    await ws.send({"id": "1", "type": "subscribe", "payload": {"query": feed}})
    await asyncio.sleep(0.3)
    await create_listing(gql, seller, manufacturer="Robin", aircraftModel="DR400")
    wanted = await create_listing(gql, seller, manufacturer="Extra", aircraftModel="EA-300")
    message = await ws.receive(wait_s=15)
    assert message["type"] == "next", message
    event = message["payload"]["data"]["listingsFeed"]
    assert event["type"] == "listing.created"
    assert event["listing"] == {"manufacturer": "Extra", "tailNumber": wanted["tailNumber"]}
    await ws.close()

"""An event reaches a reader only if that reader may read its object now (RELIABILITY.md, issue 19).

One rule (app/listings/policy.py) for REST, the `/ws` subscribe and replay, live delivery and the
webhook fan-out: drafts, suspended and withdrawn listings belong to their seller and admins; a listing
that leaves public view leaves the public a status change and nothing more; who holds a listing is
told only to the holder, the seller side and admins. Real PostgreSQL, Redis, relay and fan-out.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest

from tests.asgi_ws import AsgiWebSocket
from tests.conftest import relay_caught_up
from tests.reservations.conftest import listing_body

PUBLIC_CHANNEL_KEYS = {"listingId", "version", "previousStatus", "status"}
LISTING_TYPES = ["listing.created", "listing.updated", "listing.status_changed", "listing.price_changed"]
HOLD_TYPES = ["hold.placed", "hold.released", "hold.expired"]


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def people(accounts):
    seller = await accounts.create("seller", level=1, plan="enterprise")
    return {
        "seller": seller,
        "other": await accounts.create("seller", level=1, plan="enterprise"),
        "buyer": await accounts.create("buyer", level=2),
        "admin": await accounts.create("admin", level=3),
    }


@pytest.fixture(scope="module")
def local_webhooks(app):
    """Webhook endpoints on 127.0.0.1 may be registered (nothing is sent: no worker runs here)."""
    previous = app.state.settings
    app.state.settings = msgspec.structs.replace(previous, webhook_allow_hosts=("127.0.0.1",))
    yield
    app.state.settings = previous


async def open_socket(app, client, user: dict | None = None) -> AsgiWebSocket:
    query = ""
    if user is not None:
        answer = await client.post("/api/realtime/ticket", headers=user["headers"])
        assert answer.status_code == 201, answer.text
        query = f"ticket={answer.json()['ticket']}"
    ws = AsgiWebSocket(app, "/ws", query)
    assert (await ws.open())["type"] == "websocket.accept"
    return ws


async def replay(ws: AsgiWebSocket, channel: str) -> dict | list[dict]:
    """Subscribe with since=0: the error frame, or every retained event of the channel."""
    first = await ws.ask({"op": "subscribe", "channel": channel, "since": 0})
    if first["op"] != "subscribed":
        return first
    frames = []
    while len(frames) < first["seq"]:
        frame = await ws.receive()
        assert frame["op"] == "event", frame
        frames.append(frame)
    return frames


async def resume(ws: AsgiWebSocket, channel: str, since: int) -> list[dict]:
    """Subscribe with `since`: the replayed events, or a `reset` first when the server withholds them."""
    top = (await ws.ask({"op": "subscribe", "channel": channel, "since": since}))["seq"]
    frames: list[dict] = []
    while since < top:
        frame = await ws.receive()
        frames.append(frame)
        if frame["op"] == "reset" or frame.get("seq") == top:
            break
    if frames and frames[0]["op"] == "reset":
        return frames
    return [f for f in frames if f["op"] == "event"]


async def create(client, owner: dict, *, draft: bool = False) -> dict:
    body = listing_body() | {"model": f"Vis-{uuid.uuid4().hex[:10]}", "description": "secret-ish words"}
    response = await client.post(
        f"/api/listings?draft={str(draft).lower()}", json=body, headers=owner["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()


async def patch(client, who: dict, listing_id: str, body: dict) -> dict:
    response = await client.patch(f"/api/listings/{listing_id}", json=body, headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()


async def feed_until_marker(ws: AsgiWebSocket, client, people) -> list[dict]:
    """Frames on the live `listings` feed up to a marker listing created after the scenario (the relay
    publishes in commit order, so everything of the scenario came before it)."""
    marker = await create(client, people["other"])
    frames = []
    while True:
        frame = await ws.receive(wait_s=30)
        if frame["op"] != "event":
            continue
        if frame["data"].get("listingId") == marker["id"]:
            return frames
        frames.append(frame)


async def endpoint(client, owner: dict, types: list[str]) -> str:
    response = await client.post(
        "/api/webhooks/endpoints",
        json={"url": f"http://127.0.0.1:9/{uuid.uuid4().hex}", "eventTypes": types},
        headers=owner["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def webhook_deliveries(endpoint_id: str, listing_id: str) -> list[dict]:
    """Run the fan-out (what the worker's pump runs) until it is idle; this endpoint's deliveries."""
    from app.core import db
    from app.webhooks import delivery

    config = delivery.Config(retry_schedule=(60.0,), timeout_s=1.0, allow_hosts=("127.0.0.1",))
    while (await delivery.consume_events(config))[0] != 0:
        pass
    rows = await db.fetch(
        "SELECT event_type, payload FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY seq",
        uuid.UUID(endpoint_id),
    )
    out = []
    for row in rows:
        data = msgspec.json.decode(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        if data.get("listingId") == listing_id:
            out.append({"type": row["event_type"], "data": data})
    return out


def about(frames: list[dict], listing_id: str) -> list[dict]:
    return [f for f in frames if f["data"].get("listingId") == listing_id]


# --- REST: who may read a listing in each status --------------------------------------------------


async def put_in(client, people, status: str) -> dict:
    """A fresh listing of `people['seller']` brought to `status` through the API."""
    seller, admin, buyer = people["seller"], people["admin"], people["buyer"]
    listing = await create(client, seller, draft=status == "draft")
    lid = listing["id"]
    if status in ("under_contract", "sold"):
        await patch(client, seller, lid, {"status": status})
    elif status in ("suspended", "expired"):
        await patch(client, admin, lid, {"status": status})
    elif status == "withdrawn":
        assert (await client.delete(f"/api/listings/{lid}", headers=seller["headers"])).status_code == 204
    elif status == "on_hold":
        answer = await client.post(f"/api/listings/{lid}/holds", json={}, headers=buyer["headers"])
        assert answer.status_code == 201, answer.text
    return listing


HIDDEN = ["draft", "suspended", "withdrawn"]
SHOWN = ["active", "on_hold", "under_contract", "sold", "expired"]


@pytest.mark.parametrize("status", HIDDEN + SHOWN)
async def test_rest_reads_follow_the_status(client, people, status):
    listing = await put_in(client, people, status)
    url = f"/api/listings/{listing['id']}"
    seen = {
        name: (await client.get(url, headers=people[name]["headers"] if name else {})).status_code
        for name in (None, "other", "buyer", "seller", "admin")
    }
    public = 200 if status in SHOWN else 404
    assert seen == {None: public, "other": public, "buyer": public, "seller": 200, "admin": 200}
    listed = await client.get("/api/listings", params={"model": listing["model"], "status": status})
    assert len(listed.json()["items"]) == (1 if status in SHOWN else 0)
    own = await client.get(
        "/api/listings",
        params={"model": listing["model"], "status": status, "sellerId": people["seller"]["id"]},
        headers=people["seller"]["headers"],
    )
    assert len(own.json()["items"]) == 1


# --- events: live feed, replay and webhooks per status -------------------------------------------


async def _scenario(client, people, name: str) -> tuple[dict, dict]:
    """Run one listing's life; (the listing as created, its final state as its owner reads it)."""
    seller, admin = people["seller"], people["admin"]
    price = {"price": "123456.00"}
    listing = await create(client, seller, draft=name in ("draft", "published"))
    lid = listing["id"]
    if name == "draft":
        await patch(client, seller, lid, price)
    elif name == "published":
        await patch(client, seller, lid, price)
        await patch(client, seller, lid, {"status": "active"})
    elif name == "back_to_draft":
        await patch(client, seller, lid, {"status": "draft"})
        await patch(client, seller, lid, price)
    elif name == "suspended":
        await patch(client, admin, lid, {"status": "suspended"})
        await patch(client, admin, lid, price)
    elif name == "withdrawn":
        assert (await client.delete(f"/api/listings/{lid}", headers=seller["headers"])).status_code == 204
        await patch(client, admin, lid, price)
    elif name in ("under_contract", "sold"):
        await patch(client, seller, lid, {"status": name})
        await patch(client, seller, lid, price)
    elif name == "expired":
        await patch(client, admin, lid, {"status": "expired"})
        await patch(client, admin, lid, price)
    final = (await client.get(f"/api/listings/{lid}", headers=seller["headers"])).json()
    return listing, final


# scenario -> (public at the end, event types the public channels carry for the listing)
FULL_LIFE = [
    "listing.created",
    "listing.status_changed",
    "listing.updated",
    "listing.price_changed",
    "listing.updated",
]
SCENARIOS = {
    "draft": (False, []),
    "back_to_draft": (False, ["listing.created", "listing.status_changed"]),
    "suspended": (False, ["listing.created", "listing.status_changed"]),
    "withdrawn": (False, ["listing.created", "listing.status_changed"]),
    "published": (True, ["listing.status_changed", "listing.updated"]),
    "under_contract": (True, FULL_LIFE),
    "sold": (True, FULL_LIFE),
    "expired": (True, FULL_LIFE),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_events_reach_only_those_who_may_read_the_listing(
    app, client, people, relay, local_webhooks, name
):
    public_now, public_types = SCENARIOS[name]
    await relay_caught_up()
    stranger_hook = await endpoint(client, people["buyer"], LISTING_TYPES)
    owner_hook = await endpoint(client, people["seller"], LISTING_TYPES)
    feed = await open_socket(app, client)
    subscribed = await feed.ask({"op": "subscribe", "channel": "listings"})
    assert subscribed["op"] == "subscribed"

    listing, final = await _scenario(client, people, name)
    lid, tail = listing["id"], listing["tailNumber"]

    # Live: the anonymous feed saw exactly the public part of the listing's life.
    live = about(await feed_until_marker(feed, client, people), lid)
    await feed.close()
    assert [f["type"] for f in live] == public_types
    if not public_now and public_types:
        gone = live[-1]
        assert gone["type"] == "listing.status_changed" and set(gone["data"]) == PUBLIC_CHANNEL_KEYS
        assert tail not in msgspec.json.encode(gone["data"]).decode()
    if name == "published":  # a subscriber who never saw the draft gets the whole listing
        assert live[-1]["data"]["listing"]["tailNumber"] == tail
        assert live[-1]["data"]["listing"]["price"] == "123456.00"

    # Resuming the feed from before the scenario: the whole gap only for those who may read everything
    # in it now; anyone else gets `reset` (re-fetch over REST), never the hidden listing's old events.
    for who in (None, "buyer", "seller", "admin"):
        ws = await open_socket(app, client, people[who] if who else None)
        frames = await resume(ws, "listings", subscribed["seq"])
        await ws.close()
        if public_now or who in ("seller", "admin") or not public_types:
            assert [f["type"] for f in about(frames, lid)] == public_types, who
        else:
            assert frames[0]["op"] == "reset" and about(frames[1:], lid) == [], who

    # Replay of `listing:<id>`: only for those who may read the listing now.
    channel = f"listing:{lid}"
    for who in (None, "other", "buyer"):
        ws = await open_socket(app, client, people[who] if who else None)
        answer = await replay(ws, channel)
        if public_now:
            assert [f["type"] for f in answer] == public_types
        else:
            assert answer["op"] == "error" and answer["code"] == "forbidden", answer
            assert (await ws.ask({"op": "ping"})) == {"op": "pong"}  # the socket stays open
        await ws.close()
    for who in ("seller", "admin"):
        ws = await open_socket(app, client, people[who])
        assert [f["type"] for f in await replay(ws, channel)] == public_types
        await ws.close()

    # The seller side still follows every change: the owner's channel and `admin` carry the private ones.
    ws = await open_socket(app, client, people["seller"])
    mine = about(await replay(ws, f"user:{people['seller']['id']}"), lid)
    await ws.close()
    if not public_now:
        assert mine and mine[-1]["type"] == "listing.updated"
        assert mine[-1]["data"]["version"] == final["version"]

    # Webhooks: a stranger's bot gets what the public may read now; the owner's bot gets everything.
    stranger = await webhook_deliveries(stranger_hook, lid)
    if public_now:
        assert [d["type"] for d in stranger] == public_types
    else:
        assert [d["type"] for d in stranger] == public_types[1:]  # at most the status change
        assert all(set(d["data"]) == PUBLIC_CHANNEL_KEYS for d in stranger)
    owned = await webhook_deliveries(owner_hook, lid)
    assert max(d["data"]["version"] for d in owned if "version" in d["data"]) == final["version"]


async def test_a_webhook_retry_goes_out_only_if_the_listing_is_still_readable(client, people, local_webhooks):
    """Deliveries wait (retries, a paused receiver): what is sent is checked again at send time."""
    from app.core import db, outbound
    from app.webhooks import delivery
    from tests.webhooks.harness import Receiver

    config = delivery.Config(retry_schedule=(60.0,), timeout_s=2.0, allow_hosts=("127.0.0.1",))
    receiver = await Receiver().start()
    sender = outbound.Sender()
    try:
        hooks = {}
        for who in ("buyer", "seller"):
            answer = await client.post(
                "/api/webhooks/endpoints",
                json={"url": f"{receiver.url}/{who}", "eventTypes": LISTING_TYPES},
                headers=people[who]["headers"],
            )
            assert answer.status_code == 201, answer.text
            hooks[who] = uuid.UUID(answer.json()["id"])
        listing = await create(client, people["seller"])
        await webhook_deliveries(str(hooks["buyer"]), listing["id"])  # queued while the listing is public
        url = f"/api/listings/{listing['id']}"
        assert (await client.delete(url, headers=people["seller"]["headers"])).status_code == 204
        await webhook_deliveries(str(hooks["buyer"]), listing["id"])
        for hook in hooks.values():
            await delivery.deliver_endpoint(hook, config, sender)

        def sent_to(who: str) -> list[str]:
            bodies = [msgspec.json.decode(r["body"]) for r in receiver.requests if r["path"] == f"/{who}"]
            return [b["type"] for b in bodies if b["data"].get("listingId") == listing["id"]]

        assert sent_to("buyer") == ["listing.status_changed"]
        assert "listing.created" in sent_to("seller")
        withheld = await db.fetchrow(
            "SELECT status, last_error FROM webhook_deliveries WHERE endpoint_id = $1 AND event_type = $2"
            " AND payload->>'listingId' = $3",
            hooks["buyer"],
            "listing.created",
            listing["id"],
        )
        assert withheld["status"] == "dead" and withheld["last_error"].startswith("withheld")
    finally:
        await sender.aclose()
        await receiver.stop()


# --- holds: public channels say that a hold exists, not who holds it -----------------------------


async def test_hold_placed_names_the_buyer_only_to_the_holder_and_seller_side(
    app, client, people, relay, local_webhooks
):
    await relay_caught_up()
    buyer, seller = people["buyer"], people["seller"]
    stranger_hook = await endpoint(client, people["other"], HOLD_TYPES)
    seller_hook = await endpoint(client, seller, HOLD_TYPES)
    listing = await create(client, seller)
    lid = listing["id"]
    watchers = {}  # channel -> socket, all subscribed live before the hold
    for who, channel in (
        (None, f"listing:{lid}"),
        (None, "listings"),
        ("other", f"user:{people['other']['id']}"),
        ("buyer", f"user:{buyer['id']}"),
        ("seller", f"user:{seller['id']}"),
        ("admin", "admin"),
    ):
        ws = await open_socket(app, client, people[who] if who else None)
        assert (await ws.ask({"op": "subscribe", "channel": channel}))["op"] == "subscribed"
        watchers[channel] = ws

    hold = await client.post(f"/api/listings/{lid}/holds", json={"hours": 2}, headers=buyer["headers"])
    assert hold.status_code == 201, hold.text
    assert (
        await client.delete(f"/api/holds/{hold.json()['id']}", headers=buyer["headers"])
    ).status_code == 204
    await relay_caught_up()

    async def until_released(ws: AsgiWebSocket) -> list[dict]:
        frames: list[dict] = []
        while True:
            try:
                frame = await ws.receive(wait_s=3)
            except TimeoutError:
                return frames
            if frame["op"] == "event" and frame["data"].get("listingId") == lid:
                frames.append(frame)
                if frame["type"] == "hold.released":
                    return frames

    seen = {channel: await until_released(ws) for channel, ws in watchers.items()}
    for ws in watchers.values():
        await ws.close()
    for channel in (f"listing:{lid}", "listings"):
        placed = [f for f in seen[channel] if f["type"] == "hold.placed"]
        assert len(placed) == 1, channel
        assert set(placed[0]["data"]) == {"holdId", "listingId", "expiresAt"}
        assert buyer["id"] not in msgspec.json.encode(seen[channel]).decode()
        assert [f["type"] for f in seen[channel] if f["type"].startswith("hold.")] == [
            "hold.placed",
            "hold.released",
        ]
    assert seen[f"user:{people['other']['id']}"] == []
    for channel in (f"user:{buyer['id']}", f"user:{seller['id']}", "admin"):
        told = [f for f in seen[channel] if f["type"] == "hold.placed"]
        assert len(told) == 1 and told[0]["data"]["buyerId"] == buyer["id"], channel
        assert "hold.released" in [f["type"] for f in seen[channel]], channel

    stranger = [d for d in await webhook_deliveries(stranger_hook, lid) if d["type"] == "hold.placed"]
    assert len(stranger) == 1 and "buyerId" not in stranger[0]["data"]
    to_seller = [d for d in await webhook_deliveries(seller_hook, lid) if d["type"] == "hold.placed"]
    assert any(d["data"].get("buyerId") == buyer["id"] for d in to_seller)


# --- socket protocol: bad `since`, anonymous cap --------------------------------------------------


@pytest.mark.parametrize(
    "since", ["1e30", "1000000000000000000000000000000", "18446744073709551616", "-1", "2.5"]
)
async def test_since_that_is_no_seq_is_a_bad_request(app, client, since):
    ws = await open_socket(app, client)
    await ws.inbox.put(
        {"type": "websocket.receive", "text": f'{{"op":"subscribe","channel":"listings","since":{since}}}'}
    )
    answer = await ws.receive()
    assert answer["op"] == "error" and answer["code"] == "bad_request", answer
    assert await ws.ask({"op": "ping"}) == {"op": "pong"}
    await ws.close()


async def test_anonymous_sockets_are_capped_per_address(app, client, people):
    from app.realtime.service import realtime_config
    from realtime.protocol import CLOSE_TOO_MANY_CONNECTIONS
    from realtime.tickets import AddressSlots

    settings = app.state.settings
    assert realtime_config(settings, {}).max_anonymous_per_address == 20
    assert realtime_config(settings, {"ATP_RT_ANON_PER_IP": "3"}).max_anonymous_per_address == 3

    rt = app.state.realtime
    previous, rt.anonymous = rt.anonymous, AddressSlots(3)
    try:
        open_ = [await open_socket(app, client) for _ in range(3)]
        refused = AsgiWebSocket(app, "/ws")
        assert (await refused.open())["type"] == "websocket.accept"
        closed = await asyncio.wait_for(refused.outbox.get(), 5)
        assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_TOO_MANY_CONNECTIONS
        assert "anonymous" in closed["reason"]
        await refused.close()

        elsewhere = AsgiWebSocket(app, "/ws", client=("198.51.100.7", 40000))
        assert (await elsewhere.open())["type"] == "websocket.accept"
        assert await elsewhere.ask({"op": "ping"}) == {"op": "pong"}
        signed_in = await open_socket(app, client, people["buyer"])  # counted per user, not here
        assert await signed_in.ask({"op": "ping"}) == {"op": "pong"}

        await open_[0].close()
        again = await open_socket(app, client)  # a closed socket frees its place
        assert await again.ask({"op": "ping"}) == {"op": "pong"}
        for ws in (*open_[1:], again, elsewhere, signed_in):
            await ws.close()
    finally:
        rt.anonymous = previous

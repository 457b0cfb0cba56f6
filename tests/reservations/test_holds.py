"""Listing holds over real HTTP and PostgreSQL (API.md "Reservations")."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import datetime

from app.core import db
from app.reservations import service
from tests.reservations.conftest import active_holds, assert_problem, backdate_hold

ROUNDS = int(os.environ.get("ATP_CONTENTION_ROUNDS", "10"))
CONTENDERS = 200


async def place(client, listing_id: str, who: dict, **body):
    return await client.post(f"/api/listings/{listing_id}/holds", json=body, headers=who["headers"])


async def test_buyer_holds_listing_and_listing_shows_it(client, people, listing):
    buyer = await people.create()
    response = await place(client, listing["id"], buyer, hours=2)
    assert response.status_code == 201, response.text
    hold = response.json()
    assert (
        hold["status"] == "active" and hold["buyerId"] == buyer["id"] and hold["listingId"] == listing["id"]
    )
    seen = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert seen["status"] == "on_hold"
    assert seen["version"] == listing["version"] + 1
    assert seen["hold"]["holdId"] == hold["id"]
    page = (await client.get("/api/listings", params={"status": "on_hold", "limit": 100})).json()
    assert any(item["id"] == listing["id"] and item["hold"]["holdId"] == hold["id"] for item in page["items"])


async def test_default_hold_is_48_hours(client, people, listing):
    response = await client.post(
        f"/api/listings/{listing['id']}/holds", json={}, headers=(await people.create())["headers"]
    )
    assert response.status_code == 201, response.text
    left = datetime.fromisoformat(response.json()["expiresAt"]).timestamp() - time.time()
    assert 47.9 * 3600 < left <= 48 * 3600


async def test_hold_needs_level_2_and_a_buyer(client, people, seller, listing):
    assert_problem(
        await place(client, listing["id"], await people.create(level=1)), 403, "verification_required"
    )
    assert_problem(await place(client, listing["id"], seller), 403, "forbidden")
    assert_problem(
        await place(client, listing["id"], await people.create(), hours=73), 422, "validation_failed"
    )
    assert_problem(await place(client, str(uuid.uuid4()), await people.create()), 404, "not_found")


async def test_loser_gets_409_with_expiry_and_a_contended_event(client, people, listing):
    first, second = await people.many(2)
    winner = (await place(client, listing["id"], first)).json()
    body = assert_problem(await place(client, listing["id"], second), 409, "listing_on_hold")
    assert datetime.fromisoformat(body["expiresAt"]) == datetime.fromisoformat(winner["expiresAt"])
    events = await db.fetch(
        "SELECT event_type, payload FROM outbox_events WHERE channel = $1", f"user:{second['id']}"
    )
    assert [e["event_type"] for e in events] == ["hold.contended"]


async def test_listing_not_active_is_not_available(client, people, seller, listing):
    response = await client.patch(
        f"/api/listings/{listing['id']}", json={"status": "under_contract"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    assert_problem(await place(client, listing["id"], await people.create()), 409, "listing_not_available")


async def test_release_rules_and_listing_back_to_active(client, people, seller, admin, listing):
    holder, stranger = await people.many(2)
    hold = (await place(client, listing["id"], holder)).json()
    assert_problem(
        await client.delete(f"/api/holds/{hold['id']}", headers=stranger["headers"]), 403, "forbidden"
    )
    assert_problem(
        await client.delete(f"/api/holds/{uuid.uuid4()}", headers=holder["headers"]), 404, "not_found"
    )
    assert (await client.delete(f"/api/holds/{hold['id']}", headers=holder["headers"])).status_code == 204
    assert (await client.delete(f"/api/holds/{hold['id']}", headers=holder["headers"])).status_code == 204
    seen = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert seen["status"] == "active" and seen["hold"] is None and seen["version"] == listing["version"] + 2
    for ender in (seller, admin):
        hold = (await place(client, listing["id"], holder)).json()
        assert (await client.delete(f"/api/holds/{hold['id']}", headers=ender["headers"])).status_code == 204
        row = await db.fetchrow("SELECT status FROM listing_holds WHERE id = $1", uuid.UUID(hold["id"]))
        assert row["status"] == "cancelled"


async def test_exactly_one_winner_among_200_concurrent_buyers_over_rounds(client, people, listing):
    buyers = await people.many(CONTENDERS)
    for _ in range(ROUNDS):
        responses = await asyncio.gather(*(place(client, listing["id"], b, hours=1) for b in buyers))
        outcomes = Counter(r.status_code for r in responses)
        assert outcomes == {201: 1, 409: CONTENDERS - 1}, outcomes
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"listing_on_hold"}
        holds = await active_holds(listing["id"])
        assert len(holds) == 1
        winner = next(r for r in responses if r.status_code == 201).json()
        assert str(holds[0]["id"]) == winner["id"]
        owner = next(b for b in buyers if b["id"] == winner["buyerId"])
        assert (
            await client.delete(f"/api/holds/{winner['id']}", headers=owner["headers"])
        ).status_code == 204
    total = await db.fetchrow(
        "SELECT count(*) AS n FROM listing_holds WHERE listing = $1", uuid.UUID(listing["id"])
    )
    assert total["n"] == ROUNDS


async def test_idempotency_key_replays_first_answer_and_rejects_other_body(client, people, listing):
    buyer, other = await people.many(2)
    headers = {**buyer["headers"], "Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/listings/{listing['id']}/holds"
    first, again = [await client.post(url, json={"hours": 3}, headers=headers) for _ in range(2)]
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await active_holds(listing["id"])) == 1
    assert_problem(await client.post(url, json={"hours": 4}, headers=headers), 422, "idempotency_key_reused")
    # An error is an answer too: the loser's retry gets the same 409 even after the hold is gone.
    loser = {**other["headers"], "Idempotency-Key": "same-for-the-loser"}
    lost = await client.post(url, json={"hours": 3}, headers=loser)
    assert_problem(lost, 409, "listing_on_hold")
    await client.delete(f"/api/holds/{first.json()['id']}", headers=buyer["headers"])
    replay = await client.post(url, json={"hours": 3}, headers=loser)
    assert replay.status_code == 409 and replay.json() == lost.json()


async def test_concurrent_duplicates_with_one_key_have_one_effect(client, people, listing):
    buyer = await people.create()
    headers = {**buyer["headers"], "Idempotency-Key": f"dup-{uuid.uuid4()}"}
    url = f"/api/listings/{listing['id']}/holds"
    responses = await asyncio.gather(
        *(client.post(url, json={"hours": 2}, headers=headers) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    count = await db.fetchrow(
        "SELECT count(*) AS n FROM listing_holds WHERE listing = $1", uuid.UUID(listing["id"])
    )
    assert count["n"] == 1


async def test_sweep_expires_due_holds_once_and_listing_reads_never_show_them(client, people, listing):
    buyer = await people.create()
    hold = (await place(client, listing["id"], buyer, hours=1)).json()
    await backdate_hold(hold["id"])
    seen = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert seen["hold"] is None  # overdue but not swept yet: still never shown as active
    expired, _ = await service.expire_due_holds()
    assert expired >= 1
    assert (await service.expire_due_holds())[0] == 0  # a second run finds nothing
    row = await db.fetchrow("SELECT status FROM listing_holds WHERE id = $1", uuid.UUID(hold["id"]))
    assert row["status"] == "expired"
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "active"


async def test_overdue_hold_is_expired_on_the_spot_by_the_next_buyer(client, people, listing):
    first, second = await people.many(2)
    hold = (await place(client, listing["id"], first)).json()
    await backdate_hold(hold["id"])
    response = await place(client, listing["id"], second)
    assert response.status_code == 201, response.text
    row = await db.fetchrow("SELECT status FROM listing_holds WHERE id = $1", uuid.UUID(hold["id"]))
    assert row["status"] == "expired"


async def test_listing_channel_sees_placed_released_expired_in_order(client, people, listing):
    buyer = await people.create()
    first = (await place(client, listing["id"], buyer)).json()
    await client.delete(f"/api/holds/{first['id']}", headers=buyer["headers"])
    second = (await place(client, listing["id"], buyer)).json()
    await backdate_hold(second["id"])
    await service.expire_hold(uuid.UUID(second["id"]))
    rows = await db.fetch(
        "SELECT event_type, payload FROM outbox_events WHERE channel = $1 AND event_type LIKE 'hold.%'"
        " ORDER BY position",
        f"listing:{listing['id']}",
    )
    assert [r["event_type"] for r in rows] == ["hold.placed", "hold.released", "hold.placed", "hold.expired"]
    statuses = await db.fetch(
        "SELECT payload->>'status' AS s FROM outbox_events WHERE channel = $1"
        " AND event_type = 'listing.status_changed' ORDER BY position",
        f"listing:{listing['id']}",
    )
    assert [r["s"] for r in statuses] == ["on_hold", "active", "on_hold", "active"]

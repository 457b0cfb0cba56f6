"""Offers and the one-contract rule over real HTTP and PostgreSQL (API.md "Offers and deals")."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from app.core import db
from app.deals import service
from tests.deals.conftest import offer
from tests.reservations.conftest import assert_problem


async def events_on(channel: str) -> list[str]:
    rows = await db.fetch(
        "SELECT event_type FROM outbox_events WHERE channel = $1 ORDER BY position", channel
    )
    return [r["event_type"] for r in rows]


async def test_offer_counter_turns_and_history(client, people, seller, listing):
    buyer = await people.create()
    response = await offer(
        client, listing["id"], buyer, conditions={"prebuyInspection": True, "depositAmount": "20000.00"}
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["status"] == "open" and made["turn"] == "seller" and made["amount"] == "200000.00"
    assert (
        made["conditions"]["prebuyInspection"] is True and made["conditions"]["depositAmount"] == "20000.00"
    )
    oid = made["id"]
    assert_problem(
        await client.post(
            f"/api/offers/{oid}/counter", json={"amount": "210000.00"}, headers=buyer["headers"]
        ),
        409,
        "not_your_turn",
    )
    countered = await client.post(
        f"/api/offers/{oid}/counter",
        json={"amount": "215000.00", "message": "meet me"},
        headers=seller["headers"],
    )
    assert countered.status_code == 200, countered.text
    body = countered.json()
    assert body["status"] == "countered" and body["turn"] == "buyer" and body["amount"] == "215000.00"
    assert [(h["by"], h["action"], h["amount"]) for h in body["history"]] == [
        ("buyer", "offered", "200000.00"),
        ("seller", "countered", "215000.00"),
    ]
    assert body["conditions"]["depositAmount"] == "20000.00"  # kept when a counter names none
    assert await events_on(f"user:{buyer['id']}") == ["offer.created", "offer.countered"]
    assert "offer.created" in await events_on(f"user:{seller['id']}")
    assert not [e for e in await events_on(f"listing:{listing['id']}") if e.startswith("offer.")]


async def test_bad_amounts_currencies_and_listings_get_clear_problems(client, people, seller, listing):
    buyer = await people.create()
    for amount in ("100.123", "-5.00", "0", "1e5"):
        assert_problem(await offer(client, listing["id"], buyer, amount=amount), 422, "validation_failed")
    bad = await client.post(
        f"/api/listings/{listing['id']}/offers",
        json={"amount": "10.00", "currency": "XYZ"},
        headers=buyer["headers"],
    )
    assert_problem(bad, 422, "validation_failed")
    assert_problem(await offer(client, listing["id"], buyer, amount=100000), 422, "validation_failed")
    assert_problem(
        await offer(client, listing["id"], await people.create(level=1)), 403, "verification_required"
    )
    assert_problem(await offer(client, str(uuid.uuid4()), buyer), 404, "not_found")
    sold = await client.patch(
        f"/api/listings/{listing['id']}", json={"status": "sold"}, headers=seller["headers"]
    )
    assert sold.status_code == 200, sold.text
    assert_problem(await offer(client, listing["id"], buyer), 409, "listing_not_available")


async def test_buyer_sees_own_offers_seller_sees_all(client, people, seller, listing):
    first, second, stranger = await people.many(3)
    a = (await offer(client, listing["id"], first)).json()
    b = (await offer(client, listing["id"], second, amount="199000.00")).json()
    mine = (await client.get(f"/api/listings/{listing['id']}/offers", headers=first["headers"])).json()
    assert [o["id"] for o in mine["items"]] == [a["id"]]
    everything = (await client.get(f"/api/listings/{listing['id']}/offers", headers=seller["headers"])).json()
    assert {o["id"] for o in everything["items"]} == {a["id"], b["id"]}
    received = (await client.get("/api/offers", params={"role": "seller"}, headers=seller["headers"])).json()
    assert {a["id"], b["id"]} <= {o["id"] for o in received["items"]}
    assert_problem(await client.get(f"/api/offers/{a['id']}", headers=stranger["headers"]), 404, "not_found")
    assert_problem(
        await client.post(f"/api/offers/{a['id']}/accept", headers=stranger["headers"]), 404, "not_found"
    )


async def test_accept_makes_one_deal_others_become_backups(client, people, seller, listing):
    first, second = await people.many(2)
    a = (await offer(client, listing["id"], first)).json()
    b = (await offer(client, listing["id"], second, amount="190000.00")).json()
    accepted = await client.post(f"/api/offers/{a['id']}/accept", headers=seller["headers"])
    assert accepted.status_code == 200, accepted.text
    deal = accepted.json()["deal"]
    assert accepted.json()["offer"]["status"] == "accepted"
    assert deal["status"] == "under_contract" and deal["price"] == "200000.00"
    assert deal["deposit"] == {"amount": "20000.00", "status": "required"}
    assert deal["commission"]["rate"] == "0.0100"  # the session seller is on enterprise
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "under_contract"
    backup = (await client.get(f"/api/offers/{b['id']}", headers=second["headers"])).json()
    assert backup["status"] == "backup"
    assert_problem(
        await client.post(f"/api/offers/{b['id']}/accept", headers=seller["headers"]),
        409,
        "listing_under_contract",
    )
    assert "offer.backup" in await events_on(f"user:{second['id']}")
    assert "offer.accepted" not in await events_on(f"user:{second['id']}")
    public = await events_on(f"listing:{listing['id']}")
    assert "listing.status_changed" in public and not [e for e in public if e.startswith(("offer.", "deal."))]
    got = await client.get(f"/api/deals/{deal['id']}", headers=first["headers"])
    assert got.status_code == 200 and got.json()["id"] == deal["id"]
    assert_problem(await client.get(f"/api/deals/{deal['id']}", headers=second["headers"]), 404, "not_found")


async def test_100_concurrent_accepts_across_20_offers_make_exactly_one_deal(client, people, seller, listing):
    buyers = await people.many(20)
    offers = [
        (await offer(client, listing["id"], b, amount=f"{150000 + i}.00")).json()
        for i, b in enumerate(buyers)
    ]
    attempts = [o["id"] for o in offers for _ in range(5)]
    responses = await asyncio.gather(
        *(client.post(f"/api/offers/{oid}/accept", headers=seller["headers"]) for oid in attempts)
    )
    outcomes = Counter(r.status_code for r in responses)
    assert outcomes[200] == 1, outcomes
    assert outcomes[409] == 99, outcomes
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "listing_under_contract",
        "offer_closed",
    }
    deals = await db.fetch("SELECT * FROM deals WHERE listing = $1", uuid.UUID(listing["id"]))
    assert len(deals) == 1
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert winner["deal"]["id"] == str(deals[0]["id"])
    statuses = Counter(
        r["status"]
        for r in await db.fetch("SELECT status FROM offers WHERE listing = $1", uuid.UUID(listing["id"]))
    )
    assert statuses == {"accepted": 1, "backup": 19}
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "under_contract"


async def test_a_hold_by_another_buyer_blocks_accepting(client, people, seller, listing):
    holder, other = await people.many(2)
    assert (
        await client.post(f"/api/listings/{listing['id']}/holds", json={}, headers=holder["headers"])
    ).status_code == 201
    theirs = (await offer(client, listing["id"], other)).json()
    assert_problem(
        await client.post(f"/api/offers/{theirs['id']}/accept", headers=seller["headers"]),
        409,
        "listing_held_by_another_buyer",
    )
    mine = (await offer(client, listing["id"], holder)).json()
    accepted = await client.post(f"/api/offers/{mine['id']}/accept", headers=seller["headers"])
    assert accepted.status_code == 200, accepted.text
    hold = await db.fetchrow("SELECT status FROM listing_holds WHERE listing = $1", uuid.UUID(listing["id"]))
    assert hold["status"] == "released"


async def test_reject_withdraw_and_who_may(client, people, seller, listing):
    buyer = await people.create()
    o = (await offer(client, listing["id"], buyer)).json()
    assert_problem(
        await client.post(f"/api/offers/{o['id']}/reject", headers=buyer["headers"]), 403, "forbidden"
    )
    withdrawn = await client.post(f"/api/offers/{o['id']}/withdraw", headers=buyer["headers"])
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert_problem(
        await client.post(f"/api/offers/{o['id']}/reject", headers=seller["headers"]), 409, "offer_closed"
    )
    p = (await offer(client, listing["id"], buyer)).json()
    rejected = await client.post(f"/api/offers/{p['id']}/reject", headers=seller["headers"])
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert_problem(
        await client.post(
            f"/api/offers/{p['id']}/counter", json={"amount": "1.00"}, headers=seller["headers"]
        ),
        409,
        "offer_closed",
    )


async def test_fall_through_reopens_the_first_backup(client, people, seller, listing):
    first, second, third = await people.many(3)
    a = (await offer(client, listing["id"], first)).json()
    b = (await offer(client, listing["id"], second)).json()
    c = (await offer(client, listing["id"], third)).json()
    deal = (await client.post(f"/api/offers/{a['id']}/accept", headers=seller["headers"])).json()["deal"]
    fell = await client.post(
        f"/api/deals/{deal['id']}/fall-through", json={"reason": "financing"}, headers=first["headers"]
    )
    assert fell.status_code == 200, fell.text
    assert fell.json()["status"] == "fallen_through"
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "active"
    assert (await client.get(f"/api/offers/{b['id']}", headers=second["headers"])).json()["status"] == "open"
    assert (await client.get(f"/api/offers/{c['id']}", headers=third["headers"])).json()["status"] == "backup"
    assert "offer.promoted" in await events_on(f"user:{second['id']}")
    assert "deal.fallen_through" in await events_on(f"user:{seller['id']}")
    assert_problem(
        await client.post(
            f"/api/deals/{deal['id']}/fall-through", json={"reason": "again"}, headers=first["headers"]
        ),
        409,
        "deal_closed",
    )
    # The reopened offer can now win a new deal.
    again = await client.post(f"/api/offers/{b['id']}/accept", headers=seller["headers"])
    assert again.status_code == 200, again.text


async def test_offers_expire_all_or_nothing(client, people, seller, listing):
    buyers = await people.many(3)
    ids = [(await offer(client, listing["id"], b)).json()["id"] for b in buyers]
    await db.fetch(
        "UPDATE offers SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'"
        " WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
    )
    # A worker killed mid-run: the transaction is rolled back, every offer is as it was.
    task = asyncio.create_task(service.expire_due_offers(200))
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    states = {
        r["status"]
        for r in await db.fetch(
            "SELECT status FROM offers WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
        )
    }
    assert len(states) == 1  # all or nothing
    await service.expire_due_offers(200)
    rows = await db.fetch(
        "SELECT status, history FROM offers WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
    )
    assert {r["status"] for r in rows} == {"expired"}
    assert "offer.expired" in await events_on(f"user:{buyers[0]['id']}")
    assert_problem(
        await client.post(f"/api/offers/{ids[0]}/accept", headers=seller["headers"]), 409, "offer_closed"
    )


async def test_dashboard_state_opens_with_listings_deals_and_incoming_offers(client, people, seller, listing):
    buyer = await people.create()
    o = (await offer(client, listing["id"], buyer)).json()
    state = (await client.get("/api/dashboard/state", headers=seller["headers"])).json()
    row = next(item for item in state["listings"] if item["listingId"] == listing["id"])
    assert row["openOffers"] == 1 and row["offersAwaitingYou"] == 1 and row["views"] >= 0
    assert o["id"] in {item["id"] for item in state["incomingOffers"]}
    asked = await client.post(
        "/api/threads", json={"listingId": listing["id"], "body": "Logs complete?"}, headers=buyer["headers"]
    )
    assert asked.status_code == 201, asked.text
    state = (await client.get("/api/dashboard/state", headers=seller["headers"])).json()
    row = next(item for item in state["listings"] if item["listingId"] == listing["id"])
    assert row["unreadMessages"] == 1
    deal = (await client.post(f"/api/offers/{o['id']}/accept", headers=seller["headers"])).json()["deal"]
    state = (await client.get("/api/dashboard/state", headers=seller["headers"])).json()
    opened = next(item for item in state["deals"] if item["deal"]["id"] == deal["id"])
    assert opened["nextStep"] == "buyer pays the deposit"
    mine = (await client.get("/api/dashboard/state", headers=buyer["headers"])).json()
    assert mine["listings"] == [] and mine["incomingOffers"] == []


async def test_every_step_is_audited(client, people, seller, listing):
    buyer = await people.create()
    o = (await offer(client, listing["id"], buyer)).json()
    await client.post(
        f"/api/offers/{o['id']}/counter", json={"amount": "210000.00"}, headers=seller["headers"]
    )
    await client.post(f"/api/offers/{o['id']}/accept", headers=buyer["headers"])
    rows = await db.fetch(
        "SELECT action, actor_id FROM audit_log WHERE subject_type = 'offer' AND subject_id = $1 ORDER BY id",
        o["id"],
    )
    assert [r["action"] for r in rows] == ["offer.created", "offer.countered", "offer.accepted"]
    assert [str(r["actor_id"]) for r in rows] == [buyer["id"], seller["id"], buyer["id"]]

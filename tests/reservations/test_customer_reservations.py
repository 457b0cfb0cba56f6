"""Broker customer reservations: unique while active, private winner, scoped reads, expiry."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter

import pytest

from app.core import db
from app.reservations import customers
from tests.reservations.conftest import assert_problem

ROUNDS = int(os.environ.get("ATP_CONTENTION_ROUNDS_RESERVATIONS", "5"))
CONTENDERS = 200


@pytest.fixture(scope="module")
async def brokers(people):
    return await people.many(CONTENDERS, "broker", level=1)


async def reserve(client, broker: dict, buyer_id: str, listing_id: str, **extra):
    body = {"buyerId": buyer_id, "listingId": listing_id, **extra}
    return await client.post("/api/reservations", json=body, headers=broker["headers"])


async def test_broker_reserves_and_the_buyer_sees_their_broker(client, people, brokers, listing, admin):
    buyer, other_buyer = await people.many(2)
    broker, rival = brokers[0], brokers[1]
    response = await reserve(client, broker, buyer["id"], listing["id"])
    assert response.status_code == 201, response.text
    reservation = response.json()
    assert reservation["brokerId"] == broker["id"] and reservation["status"] == "active"
    body = assert_problem(
        await reserve(client, rival, buyer["id"], listing["id"]), 409, "buyer_already_reserved"
    )
    assert broker["id"] not in str(body) and reservation["id"] not in str(body)
    seen = (
        await client.get("/api/reservations", params={"listingId": listing["id"]}, headers=buyer["headers"])
    ).json()
    assert [r["brokerId"] for r in seen] == [broker["id"]]
    assert (await client.get("/api/reservations", headers=rival["headers"])).json() == []
    assert (await client.get("/api/reservations", headers=other_buyer["headers"])).json() == []
    events = await db.fetch("SELECT event_type FROM outbox_events WHERE channel = $1", f"user:{rival['id']}")
    assert [e["event_type"] for e in events] == ["reservation.conflict"]
    url = f"/api/reservations/{reservation['id']}"
    assert_problem(await client.delete(url, headers=rival["headers"]), 403, "forbidden")
    assert (await client.delete(url, headers=broker["headers"])).status_code == 204
    assert (await reserve(client, rival, buyer["id"], listing["id"], days=7)).status_code == 201
    assert_problem(await reserve(client, buyer, buyer["id"], listing["id"]), 403, "forbidden")
    assert_problem(await reserve(client, broker, str(uuid.uuid4()), listing["id"]), 404, "not_found")


async def test_one_of_200_concurrent_brokers_wins_over_rounds(client, people, brokers, listing):
    buyer = await people.create()
    for _ in range(ROUNDS):
        responses = await asyncio.gather(*(reserve(client, b, buyer["id"], listing["id"]) for b in brokers))
        outcomes = Counter(r.status_code for r in responses)
        assert outcomes == {201: 1, 409: CONTENDERS - 1}, outcomes
        active = await db.fetch(
            "SELECT broker FROM customer_reservations WHERE buyer = $1 AND listing = $2 AND status = 'active'",
            uuid.UUID(buyer["id"]),
            uuid.UUID(listing["id"]),
        )
        assert len(active) == 1
        winner = next(r for r in responses if r.status_code == 201).json()
        owner = next(b for b in brokers if b["id"] == winner["brokerId"])
        assert (
            await client.delete(f"/api/reservations/{winner['id']}", headers=owner["headers"])
        ).status_code == 204


async def test_reservation_expires_via_sweep_and_reads_show_it_expired(client, people, brokers, listing):
    buyer = await people.create()
    reservation = (await reserve(client, brokers[2], buyer["id"], listing["id"], days=1)).json()
    await db.fetch(
        """UPDATE customer_reservations SET reserved_at = now() - interval '2 days',
               expires_at = now() - interval '1 second' WHERE id = $1""",
        uuid.UUID(reservation["id"]),
    )
    seen = (await client.get("/api/reservations", headers=buyer["headers"])).json()
    assert [r["status"] for r in seen] == ["expired"]
    assert await customers.expire_due_reservations() >= 1
    assert await customers.expire_due_reservations(reservation=uuid.UUID(reservation["id"])) == 0
    events = await db.fetch(
        "SELECT event_type FROM outbox_events WHERE channel = $1 ORDER BY position", f"user:{buyer['id']}"
    )
    assert [e["event_type"] for e in events] == ["reservation.created", "reservation.expired"]
    assert (await reserve(client, brokers[3], buyer["id"], listing["id"])).status_code == 201

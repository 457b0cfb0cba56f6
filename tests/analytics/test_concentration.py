"""`broker_buyer_concentration`: deals made through the real offer → accept (→ close, → fall through) API,
consumed by the production `consume_market_events` job in a real arq worker. Defaults: at least 5 live or
closed deals of one seller side and at least 60 % of them with one buyer."""

from __future__ import annotations

import uuid

from tests.analytics.jobs import consume_in_worker
from tests.reservations.conftest import listing_body

CODE = "broker_buyer_concentration"


async def _deal(client, broker: dict, buyer: dict) -> tuple[dict, dict]:
    body = {**listing_body(), "manufacturer": "Cessna", "model": f"Citation {uuid.uuid4().hex[:5]}"}
    listing = await client.post("/api/listings", json=body, headers=broker["headers"])
    assert listing.status_code == 201, listing.text
    listing = listing.json()
    offer = await client.post(
        f"/api/listings/{listing['id']}/offers",
        json={"amount": "200000.00", "currency": "USD", "conditions": {"depositAmount": "0.00"}},
        headers=buyer["headers"],
    )
    assert offer.status_code == 201, offer.text
    accepted = await client.post(f"/api/offers/{offer.json()['id']}/accept", headers=broker["headers"])
    assert accepted.status_code == 200, accepted.text
    return listing, accepted.json()["deal"]


async def _flags(client, who: dict, listing: dict) -> list[dict]:
    response = await client.get(f"/api/listings/{listing['id']}/risk", headers=who["headers"])
    assert response.status_code == 200, response.text
    return [f for f in response.json()["flags"] if f["code"] == CODE]


async def test_a_broker_selling_mostly_to_one_buyer_is_flagged_until_it_no_longer_holds(
    client, people, admin
):
    from app.core import db

    broker = await people.create("broker", level=1, plan="enterprise")
    favourite, other, third = await people.many(3, "buyer", level=2)

    made = [await _deal(client, broker, buyer) for buyer in (favourite, favourite, other, third)]
    await consume_in_worker()
    # Four deals: below the minimum of five, however concentrated.
    for listing, _ in made:
        assert await _flags(client, admin, listing) == []

    made.append(await _deal(client, broker, favourite))  # 3 of 5 with one buyer = 60 %
    await consume_in_worker()
    concentrated = [made[i] for i in (0, 1, 4)]
    deal_ids = sorted(deal["id"] for _, deal in concentrated)
    for listing, _ in concentrated:
        [flag] = await _flags(client, admin, listing)
        evidence = flag["evidence"]
        assert flag["severity"] == "medium"
        assert evidence["buyerId"] == favourite["id"] and evidence["brokerId"] == broker["id"]
        assert (evidence["dealsWithBuyer"], evidence["deals"]) == (3, 5)
        assert sorted(evidence["dealIds"]) == deal_ids
        assert [f["code"] for f in await _flags(client, broker, listing)] == [CODE]  # the owner sees it
    for listing, _ in (made[2], made[3]):
        assert await _flags(client, admin, listing) == []
    assert (
        await client.get(f"/api/listings/{made[0][0]['id']}/risk", headers=favourite["headers"])
    ).status_code == 404

    announced = await db.fetch(
        "SELECT payload->>'listingId' AS listing FROM outbox_events"
        " WHERE event_type = 'risk.flagged' AND channel = 'admin' AND payload->>'code' = $1"
        " AND payload->>'listingId' = ANY($2::text[])",
        CODE,
        [listing["id"] for listing, _ in made],
    )
    assert sorted(r["listing"] for r in announced) == sorted(listing["id"] for listing, _ in concentrated)
    listed = await client.get("/api/admin/risk", params={"code": CODE}, headers=admin["headers"])
    assert listed.status_code == 200, listed.text
    assert {listing["id"] for listing, _ in concentrated} <= {i["listingId"] for i in listed.json()["items"]}

    # A closed deal still counts; the flag stays, nothing is announced twice.
    closed = await client.post(f"/api/deals/{made[0][1]['id']}/close", headers=broker["headers"])
    assert closed.status_code == 200, closed.text
    await consume_in_worker()
    assert len(await _flags(client, admin, made[0][0])) == 1

    # One of the favourite's deals falls through: 2 of 4 deals, under the minimum: cleared everywhere.
    fell = await client.post(
        f"/api/deals/{made[4][1]['id']}/fall-through", json={"reason": "financing"}, headers=broker["headers"]
    )
    assert fell.status_code == 200, fell.text
    await consume_in_worker()
    for listing, _ in made:
        assert await _flags(client, admin, listing) == []
    count = await db.fetchrow(
        "SELECT count(*) AS n FROM risk_flags WHERE code = $1 AND seller_id = $2",
        CODE,
        uuid.UUID(broker["id"]),
    )
    assert count["n"] == 3  # raised once per listing, then cleared (kept as history)


def test_the_concentration_rule():
    from app.analytics.risk import ConcentrationRule, concentration

    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rule = ConcentrationRule()
    assert concentration([a, a, a, b, c], rule) == (a, 3)
    assert concentration([a, a, b, b, c], rule) is None  # 40 %
    assert concentration([a, a, a, a], rule) is None  # too few deals to say
    assert concentration([a] * 4 + [b], ConcentrationRule(min_deals=5, share=0.9)) is None

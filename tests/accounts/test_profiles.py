"""Public profiles of sellers and brokers: public fields only, inventory without drafts."""

from __future__ import annotations

import uuid

from app.core import db
from tests.listings.test_listings import create, listing_body


async def test_a_brokers_public_profile_and_inventory_show_only_public_things(client, accounts):
    broker = await accounts.create("broker", level=2, plan="enterprise")
    await db.fetch(
        "UPDATE users SET first_name = 'Ada', last_name = 'Broker', company_name = 'Skyway Brokers',"
        " phone = '+15550100' WHERE id = $1",
        uuid.UUID(broker["id"]),
    )
    live = [await create(client, broker, model=f"172 Skyhawk {i}") for i in range(3)]
    draft = await client.post("/api/listings?draft=true", json=listing_body(), headers=broker["headers"])
    assert draft.status_code == 201, draft.text
    withdrawn = await create(client, broker)
    await client.delete(f"/api/listings/{withdrawn['id']}", headers=broker["headers"])

    response = await client.get(f"/api/profiles/{broker['id']}")
    assert response.status_code == 200
    profile = response.json()
    assert profile["displayName"] == "Ada Broker"
    assert profile["companyName"] == "Skyway Brokers"
    assert profile["userType"] == "broker"
    assert profile["verificationLevel"] == 2
    assert profile["listingsCount"] == 3
    assert profile["memberSince"]
    text = response.text
    for private in (broker["email"], "+15550100", "email", "phone", "status", "lastLogin"):
        assert private not in text

    # The inventory is the public listing list: no draft, no withdrawn listing, pages of cards.
    first = (await client.get("/api/listings", params={"sellerId": broker["id"], "limit": 2})).json()
    rest = (
        await client.get(
            "/api/listings", params={"sellerId": broker["id"], "limit": 2, "cursor": first["nextCursor"]}
        )
    ).json()
    shown = {item["id"] for item in first["items"] + rest["items"]}
    assert shown == {item["id"] for item in live}
    assert rest["nextCursor"] is None


async def test_buyers_admins_and_unknown_users_have_no_public_profile(client, accounts):
    for user_type in ("buyer", "admin"):
        user = await accounts.create(user_type)
        response = await client.get(f"/api/profiles/{user['id']}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert (await client.get(f"/api/profiles/{uuid.uuid4()}")).status_code == 404
    seller = await accounts.create("seller", level=1, plan="enterprise")
    await db.fetch("UPDATE users SET status = 'suspended' WHERE id = $1", uuid.UUID(seller["id"]))
    assert (await client.get(f"/api/profiles/{seller['id']}")).status_code == 404

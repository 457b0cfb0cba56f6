"""The watchlist over real HTTP and PostgreSQL: watch, list, unwatch, the read rules, the seller's count."""

from __future__ import annotations

import uuid

import pytest

from tests.listings.test_listings import assert_problem, create


@pytest.fixture(scope="module")
async def seller(accounts):
    return await accounts.create("seller", level=1)


@pytest.fixture
async def buyer(accounts):
    return await accounts.create("buyer", level=0)


async def test_watch_list_and_unwatch(client, seller, buyer):
    first = await create(client, seller, price="250000.00")
    second = await create(client, seller, model="182T Skylane")
    added = await client.put(f"/api/watchlist/{first['id']}", headers=buyer["headers"])
    assert added.status_code == 201, added.text
    assert added.json()["available"] is True
    assert added.json()["listing"]["price"] == "250000.00"
    again = await client.put(f"/api/watchlist/{first['id']}", headers=buyer["headers"])
    assert again.status_code == 200
    assert again.json()["watchedAt"] == added.json()["watchedAt"]
    assert (await client.put(f"/api/watchlist/{second['id']}", headers=buyer["headers"])).status_code == 201

    # Newest first, the current price, in pages.
    await client.patch(f"/api/listings/{first['id']}", json={"price": "240000.00"}, headers=seller["headers"])
    page = (await client.get("/api/watchlist", params={"limit": 1}, headers=buyer["headers"])).json()
    assert [w["listingId"] for w in page["items"]] == [second["id"]]
    rest = await client.get(
        "/api/watchlist", params={"limit": 1, "cursor": page["nextCursor"]}, headers=buyer["headers"]
    )
    assert [w["listing"]["price"] for w in rest.json()["items"]] == ["240000.00"]
    assert rest.json()["nextCursor"] is None

    ids = await client.get(
        "/api/watchlist/ids", params={"ids": [first["id"], str(uuid.uuid4())]}, headers=buyer["headers"]
    )
    assert ids.json() == {"listingIds": [first["id"]]}

    # The seller sees how many watch, never who.
    stats = (await client.get(f"/api/listings/{first['id']}/stats", headers=seller["headers"])).json()
    assert stats["watchers"] == 1
    many = await client.get("/api/listings/stats", params={"ids": [first["id"]]}, headers=seller["headers"])
    assert many.json()[first["id"]]["watchers"] == 1

    assert (await client.delete(f"/api/watchlist/{first['id']}", headers=buyer["headers"])).status_code == 204
    assert (await client.delete(f"/api/watchlist/{first['id']}", headers=buyer["headers"])).status_code == 204
    left = (await client.get("/api/watchlist", headers=buyer["headers"])).json()["items"]
    assert [w["listingId"] for w in left] == [second["id"]]


async def test_a_listing_that_leaves_public_view_is_unavailable_without_its_data(client, seller, buyer):
    listing = await create(client, seller)
    await client.put(f"/api/watchlist/{listing['id']}", headers=buyer["headers"])
    await client.patch(f"/api/listings/{listing['id']}", json={"status": "draft"}, headers=seller["headers"])
    items = (await client.get("/api/watchlist", headers=buyer["headers"])).json()["items"]
    assert items == [
        {"listingId": listing["id"], "watchedAt": items[0]["watchedAt"], "available": False, "listing": None}
    ]
    # Nor can a draft be watched by anyone but its seller side.
    other = await create(client, seller)
    await client.patch(f"/api/listings/{other['id']}", json={"status": "draft"}, headers=seller["headers"])
    assert_problem(
        await client.put(f"/api/watchlist/{other['id']}", headers=buyer["headers"]), 404, "not_found"
    )
    assert_problem(
        await client.put(f"/api/watchlist/{uuid.uuid4()}", headers=buyer["headers"]), 404, "not_found"
    )
    # Public again: back with its data.
    await client.patch(f"/api/listings/{listing['id']}", json={"status": "active"}, headers=seller["headers"])
    items = (await client.get("/api/watchlist", headers=buyer["headers"])).json()["items"]
    assert items[0]["available"] is True and items[0]["listing"]["id"] == listing["id"]


async def test_watchlist_needs_a_signed_in_user_and_valid_input(client, buyer):
    listing_id = uuid.uuid4()
    for method, path in (("GET", "/api/watchlist"), ("PUT", f"/api/watchlist/{listing_id}")):
        response = await client.request(method, path)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "nope"}):
        response = await client.get("/api/watchlist", params=params, headers=buyer["headers"])
        assert response.status_code == 422, params
    too_many = {"ids": [str(uuid.uuid4()) for _ in range(101)]}
    assert (
        await client.get("/api/watchlist/ids", params=too_many, headers=buyer["headers"])
    ).status_code == 422
    assert (await client.put("/api/watchlist/not-a-uuid", headers=buyer["headers"])).status_code in (404, 422)

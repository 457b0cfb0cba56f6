"""Price history and the seller's stats (views counted in Redis, hold, waitlist length)."""

from __future__ import annotations

import uuid
from datetime import datetime

from tests.ui_api.conftest import assert_problem, listing_body


async def patch(client, listing: dict, who: dict, **body) -> dict:
    response = await client.patch(f"/api/listings/{listing['id']}", json=body, headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()


async def test_price_history_lists_every_price_oldest_first(client, seller, listing):
    await patch(client, listing, seller, price="205000.00")
    await patch(client, listing, seller, description="new paint")  # not a price change
    await patch(client, listing, seller, price="199500.50")
    await patch(client, listing, seller, currency="EUR")
    response = await client.get(f"/api/listings/{listing['id']}/price-history")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["price"], i["currency"]) for i in items] == [
        ("219000.00", "USD"),
        ("205000.00", "USD"),
        ("199500.50", "USD"),
        ("199500.50", "EUR"),
    ]
    times = [datetime.fromisoformat(i["changedAt"]) for i in items]
    assert times == sorted(times)


async def test_price_history_follows_listing_visibility(client, seller):
    draft = await client.post("/api/listings?draft=true", json=listing_body(), headers=seller["headers"])
    path = f"/api/listings/{draft.json()['id']}/price-history"
    assert_problem(await client.get(path), 404, "not_found")
    assert (await client.get(path, headers=seller["headers"])).status_code == 200
    assert_problem(await client.get(f"/api/listings/{uuid.uuid4()}/price-history"), 404, "not_found")


async def test_stats_count_views_but_not_the_owners(client, people, seller, listing):
    stats_path = f"/api/listings/{listing['id']}/stats"
    fresh = (await client.get(stats_path, headers=seller["headers"])).json()
    assert fresh == {"views": 0, "uniqueViewers": 0, "activeHold": None, "waitlistLength": 0, "watchers": 0}
    for _ in range(3):
        assert (await client.get(f"/api/listings/{listing['id']}")).status_code == 200
    await client.get(f"/api/listings/{listing['id']}", headers=seller["headers"])
    buyer = await people.create()
    await client.get(f"/api/listings/{listing['id']}", headers=buyer["headers"])
    await client.get(f"/api/listings/{listing['id']}", headers=buyer["headers"])
    stats = (await client.get(stats_path, headers=seller["headers"])).json()
    assert stats["views"] == 5
    assert stats["uniqueViewers"] == 2  # one anonymous address, one buyer


async def test_stats_show_the_hold_and_the_line(client, people, seller, listing):
    holder, first, second = await people.many(3)
    hold = await client.post(
        f"/api/listings/{listing['id']}/holds", json={"hours": 2}, headers=holder["headers"]
    )
    assert hold.status_code == 201
    for who in (first, second):
        joined = await client.post(f"/api/listings/{listing['id']}/waitlist", headers=who["headers"])
        assert joined.status_code == 201
    stats = (await client.get(f"/api/listings/{listing['id']}/stats", headers=seller["headers"])).json()
    assert stats["activeHold"] == {"holdId": hold.json()["id"], "expiresAt": hold.json()["expiresAt"]}
    assert stats["waitlistLength"] == 2


async def test_stats_are_for_the_owner_and_admins(client, people, listing):
    path = f"/api/listings/{listing['id']}/stats"
    assert_problem(await client.get(path), 401, "not_authenticated")
    assert_problem(await client.get(path, headers=(await people.create())["headers"]), 403, "forbidden")
    admin = await people.create("admin", level=3)
    assert (await client.get(path, headers=admin["headers"])).status_code == 200

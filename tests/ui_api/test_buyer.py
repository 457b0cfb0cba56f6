"""The buyer's views: my holds, my place in line, and the place shown when a hold attempt loses."""

from __future__ import annotations

from tests.ui_api.conftest import assert_problem


async def hold(client, listing_id: str, who: dict):
    return await client.post(f"/api/listings/{listing_id}/holds", json={"hours": 1}, headers=who["headers"])


async def test_my_holds_are_mine_newest_first_and_paged(client, people, seller):
    from tests.ui_api.conftest import listing_body

    buyer, other = await people.many(2)
    listings = []
    for _ in range(3):
        created = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
        listings.append(created.json())
    mine = [(await hold(client, item["id"], buyer)).json() for item in listings[:2]]
    await hold(client, listings[2]["id"], other)
    released = await client.delete(f"/api/holds/{mine[0]['id']}", headers=buyer["headers"])
    assert released.status_code == 204

    page = (await client.get("/api/holds", headers=buyer["headers"])).json()
    assert [h["id"] for h in page["items"]] == [mine[1]["id"], mine[0]["id"]]
    assert page["nextCursor"] is None
    active = (await client.get("/api/holds", params={"status": "active"}, headers=buyer["headers"])).json()
    assert [h["id"] for h in active["items"]] == [mine[1]["id"]]

    first = (await client.get("/api/holds", params={"limit": 1}, headers=buyer["headers"])).json()
    second = await client.get(
        "/api/holds", params={"limit": 1, "cursor": first["nextCursor"]}, headers=buyer["headers"]
    )
    assert [h["id"] for h in first["items"] + second.json()["items"]] == [mine[1]["id"], mine[0]["id"]]
    assert_problem(await client.get("/api/holds"), 401, "not_authenticated")
    assert_problem(
        await client.get("/api/holds", params={"cursor": "nonsense"}, headers=buyer["headers"]),
        422,
        "validation_failed",
    )


async def test_waitlist_place_and_the_losers_409(client, people, listing):
    holder, first, second, outsider = await people.many(4)
    me = f"/api/listings/{listing['id']}/waitlist/me"
    assert_problem(await client.get(me, headers=first["headers"]), 404, "not_waitlisted")
    won = await hold(client, listing["id"], holder)
    assert won.status_code == 201
    for who in (first, second):
        await client.post(f"/api/listings/{listing['id']}/waitlist", headers=who["headers"])

    assert (await client.get(me, headers=first["headers"])).json() == {
        "listingId": listing["id"],
        "status": "waiting",
        "position": 1,
        "offerExpiresAt": None,
        "holdId": None,
    }
    assert (await client.get(me, headers=second["headers"])).json()["position"] == 2

    lost = assert_problem(await hold(client, listing["id"], second), 409, "listing_on_hold")
    assert lost["waitlistPosition"] == 2 and lost["expiresAt"]
    assert (
        assert_problem(await hold(client, listing["id"], outsider), 409, "listing_on_hold")[
            "waitlistPosition"
        ]
        is None
    )

    # The hold ends: the first in line is offered it, the second moves up.
    assert (
        await client.delete(f"/api/holds/{won.json()['id']}", headers=holder["headers"])
    ).status_code == 204
    offered = (await client.get(me, headers=first["headers"])).json()
    assert offered["status"] == "offered" and offered["position"] == 0
    assert offered["offerExpiresAt"] and offered["holdId"]
    assert (await client.get(me, headers=second["headers"])).json()["position"] == 1
    assert_problem(await client.get(me), 401, "not_authenticated")

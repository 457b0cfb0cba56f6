"""The waitlist: order under concurrent joins, promotion when a hold ends, lapse to the next buyer."""

from __future__ import annotations

import asyncio
import uuid

from app.core import db
from app.reservations import service
from tests.reservations.conftest import active_holds, assert_problem, backdate_hold


async def hold(client, listing_id: str, who: dict) -> dict:
    response = await client.post(f"/api/listings/{listing_id}/holds", json={}, headers=who["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def join(client, listing_id: str, who: dict):
    return await client.post(f"/api/listings/{listing_id}/waitlist", headers=who["headers"])


async def user_events(user_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT event_type FROM outbox_events WHERE channel = $1 ORDER BY position", f"user:{user_id}"
    )
    return [r["event_type"] for r in rows]


async def test_concurrent_joins_get_distinct_positions_in_line_order(client, people, listing):
    buyers = await people.many(40)
    responses = await asyncio.gather(*(join(client, listing["id"], b) for b in buyers))
    assert {r.status_code for r in responses} == {201}
    positions = sorted(r.json()["position"] for r in responses)
    assert positions == list(range(1, 41))
    rows = await db.fetch(
        "SELECT buyer FROM listing_waitlist WHERE listing = $1 AND status = 'waiting' ORDER BY id",
        uuid.UUID(listing["id"]),
    )
    by_position = {r.json()["position"]: b["id"] for r, b in zip(responses, buyers, strict=True)}
    assert [str(r["buyer"]) for r in rows] == [by_position[p] for p in range(1, 41)]
    assert_problem(await join(client, listing["id"], buyers[0]), 409, "already_waitlisted")


async def test_join_rules_and_leaving(client, people, listing):
    assert_problem(
        await join(client, listing["id"], await people.create(level=1)), 403, "verification_required"
    )
    buyer = await people.create()
    assert (await join(client, listing["id"], buyer)).json()["position"] == 1
    url = f"/api/listings/{listing['id']}/waitlist"
    assert (await client.delete(url, headers=buyer["headers"])).status_code == 204
    assert_problem(await client.delete(url, headers=buyer["headers"]), 404, "not_found")
    assert (await join(client, listing["id"], buyer)).json()["position"] == 1


async def test_release_promotes_first_in_line_and_lapse_promotes_the_next(client, people, listing):
    holder, first, second = await people.many(3)
    current = await hold(client, listing["id"], holder)
    for buyer in (first, second):
        assert (await join(client, listing["id"], buyer)).status_code == 201
    assert (await client.delete(f"/api/holds/{current['id']}", headers=holder["headers"])).status_code == 204
    [offered] = await active_holds(listing["id"])
    assert str(offered["buyer"]) == first["id"] and offered["source"] == "waitlist"
    assert "waitlist.promoted" in await user_events(first["id"])
    seen = (await client.get(f"/api/listings/{listing['id']}")).json()
    assert seen["status"] == "on_hold" and seen["hold"]["holdId"] == str(offered["id"])
    # The first buyer lets the offer lapse: the next one in line gets it.
    await backdate_hold(str(offered["id"]))
    await service.expire_hold(offered["id"])
    [offered] = await active_holds(listing["id"])
    assert str(offered["buyer"]) == second["id"]
    assert "waitlist.promoted" in await user_events(second["id"])
    # Nobody left in line: the listing goes back on the market.
    await backdate_hold(str(offered["id"]))
    await service.expire_due_holds()
    assert await active_holds(listing["id"]) == []
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "active"

"""Listings over real HTTP and PostgreSQL (API.md "Listings")."""

from __future__ import annotations

import random
import string
import uuid

import pytest

from app.core import db


def tail() -> str:
    # N + 4 digits + "L" + a letter: a space of its own (a report test seeds 6,000 listings in N#### + letter).
    return (
        "N"
        + str(random.randint(1, 9))
        + "".join(random.choices(string.digits, k=3))
        + "L"
        + random.choice(string.ascii_uppercase)
    )


def listing_body(**overrides) -> dict:
    body = {
        "manufacturer": "Cessna",
        "model": "172S Skyhawk",
        "yearManufactured": 2012,
        "tailNumber": tail(),
        "hoursTotal": 2150,
        "price": "389000.00",
        "currency": "USD",
        "locationCountry": "US",
        "locationCity": "Wichita",
        "description": "G1000, fresh annual, hangared.",
        "specifications": {"engineType": "piston", "maxPassengers": 4, "avionics": ["Garmin G1000"]},
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
async def seller(accounts):
    return await accounts.create("seller", level=1, plan="enterprise")


@pytest.fixture(scope="module")
async def admin(accounts):
    return await accounts.create("admin", level=3)


async def create(client, who, **overrides) -> dict:
    response = await client.post("/api/listings", json=listing_body(**overrides), headers=who["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def outbox(listing_id: str) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT channel, event_type FROM outbox_events WHERE channel = $1 ORDER BY position",
        f"listing:{listing_id}",
    )
    return [(r["channel"], r["event_type"]) for r in rows]


async def test_seller_creates_active_listing_with_event_in_outbox(client, seller):
    listing = await create(client, seller)
    assert listing["status"] == "active"
    assert listing["version"] == 1
    assert listing["sellerId"] == seller["id"]
    assert listing["price"] == "389000.00"
    assert listing["hold"] is None
    assert listing["specifications"]["maxPassengers"] == 4
    assert await outbox(listing["id"]) == [(f"listing:{listing['id']}", "listing.created")]
    feed = await db.fetch(
        "SELECT 1 FROM outbox_events WHERE channel = 'listings' AND payload->>'listingId' = $1", listing["id"]
    )
    assert len(feed) == 1
    fetched = await client.get(f"/api/listings/{listing['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == listing


async def test_draft_is_hidden_from_others(client, seller):
    response = await client.post("/api/listings?draft=true", json=listing_body(), headers=seller["headers"])
    assert response.status_code == 201
    draft = response.json()
    assert draft["status"] == "draft"
    assert (await client.get(f"/api/listings/{draft['id']}")).status_code == 404
    assert (await client.get(f"/api/listings/{draft['id']}", headers=seller["headers"])).status_code == 200


async def test_who_may_create(client, accounts):
    unverified = await accounts.create("seller", level=0)
    buyer = await accounts.create("buyer", level=3)
    broker = await accounts.create("broker", level=1)
    assert_problem(
        await client.post("/api/listings", json=listing_body(), headers=unverified["headers"]),
        403,
        "verification_required",
    )
    assert_problem(
        await client.post("/api/listings", json=listing_body(), headers=buyer["headers"]), 403, "forbidden"
    )
    assert_problem(await client.post("/api/listings", json=listing_body()), 401, "not_authenticated")
    assert (
        await client.post("/api/listings", json=listing_body(), headers=broker["headers"])
    ).status_code == 201


async def test_tail_number_is_unique_among_live_listings(client, seller, accounts):
    other = await accounts.create("broker", level=2)
    number = tail()
    first = await create(client, seller, tailNumber=number)
    assert_problem(
        await client.post(
            "/api/listings", json=listing_body(tailNumber=number.lower()), headers=other["headers"]
        ),
        409,
        "tail_number_taken",
    )
    assert (await client.delete(f"/api/listings/{first['id']}", headers=seller["headers"])).status_code == 204
    # Withdrawn listings free the tail number for the next listing of that airframe.
    await create(client, other, tailNumber=number)


async def test_concurrent_creates_with_one_tail_number_make_one_listing(client, accounts):
    import asyncio

    sellers = [await accounts.create("seller", level=1) for _ in range(5)]
    number = tail()
    responses = await asyncio.gather(
        *(
            client.post("/api/listings", json=listing_body(tailNumber=number), headers=s["headers"])
            for s in sellers
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    rows = await db.fetch("SELECT 1 FROM listings WHERE upper(tail_number) = $1", number)
    assert len(rows) == 1


async def test_price_change_bumps_version_records_history_and_emits(client, seller):
    listing = await create(client, seller)
    response = await client.patch(
        f"/api/listings/{listing['id']}",
        json={"price": "375000.00"},
        headers=seller["headers"] | {"If-Match": "1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["price"] == "375000.00"
    history = await db.fetch(
        "SELECT old_price, new_price FROM listing_price_history WHERE listing = $1 ORDER BY id",
        uuid.UUID(listing["id"]),
    )
    assert [(str(h["old_price"]) if h["old_price"] else None, str(h["new_price"])) for h in history] == [
        (None, "389000.00"),
        ("389000.00", "375000.00"),
    ]
    assert [t for _, t in await outbox(listing["id"])] == [
        "listing.created",
        "listing.price_changed",
        "listing.updated",
    ]
    stale = await client.patch(
        f"/api/listings/{listing['id']}",
        json={"price": "1.00"},
        headers=seller["headers"] | {"If-Match": "1"},
    )
    assert_problem(stale, 412, "version_mismatch")
    assert stale.json()["currentVersion"] == 2


async def test_patch_without_changes_keeps_version(client, seller):
    listing = await create(client, seller)
    same = await client.patch(
        f"/api/listings/{listing['id']}", json={"price": listing["price"]}, headers=seller["headers"]
    )
    assert same.json()["version"] == 1


async def test_status_changes_follow_the_state_machine(client, seller, admin):
    listing = await create(client, seller)
    url = f"/api/listings/{listing['id']}"
    assert_problem(
        await client.patch(url, json={"status": "suspended"}, headers=seller["headers"]),
        409,
        "invalid_status_transition",
    )
    assert_problem(
        await client.patch(url, json={"status": "on_hold"}, headers=seller["headers"]),
        409,
        "invalid_status_transition",
    )
    suspended = await client.patch(url, json={"status": "suspended"}, headers=admin["headers"])
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    types = [t for _, t in await outbox(listing["id"])]
    # Suspended is hidden: the public channel hears only that the status changed (app/listings/policy.py);
    # the whole listing goes to its seller's channel and `admin`.
    assert types[-1:] == ["listing.status_changed"]
    private = await db.fetch(
        "SELECT channel, event_type FROM outbox_events WHERE payload->>'listingId' = $1 AND channel <> ALL($2)"
        " ORDER BY position",
        listing["id"],
        ["listings", f"listing:{listing['id']}"],
    )
    assert [(r["channel"], r["event_type"]) for r in private][-2:] == [
        (f"user:{seller['id']}", "listing.updated"),
        ("admin", "listing.updated"),
    ]
    sold = await client.patch(url, json={"status": "sold"}, headers=seller["headers"])
    assert_problem(sold, 409, "invalid_status_transition")


async def test_only_owner_or_admin_may_change(client, seller, admin, accounts):
    listing = await create(client, seller)
    url = f"/api/listings/{listing['id']}"
    stranger = await accounts.create("seller", level=2)
    assert_problem(
        await client.patch(url, json={"price": "1.00"}, headers=stranger["headers"]), 403, "forbidden"
    )
    assert_problem(await client.delete(url, headers=stranger["headers"]), 403, "forbidden")
    assert_problem(
        await client.patch(url, json={"featured": True}, headers=seller["headers"]), 403, "field_not_writable"
    )
    featured = await client.patch(url, json={"featured": True}, headers=admin["headers"])
    assert featured.json()["featured"] is True
    for field, value in (("sellerId", str(uuid.uuid4())), ("version", 9), ("id", str(uuid.uuid4()))):
        assert_problem(
            await client.patch(url, json={field: value}, headers=seller["headers"]), 422, "validation_failed"
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("yearManufactured", 1902),
        ("yearManufactured", 2400),
        ("hoursTotal", -1),
        ("price", "0"),
        ("price", "-5.00"),
        ("price", "12.345"),
        ("price", "NaN"),
        ("price", "lots"),
        # Money is a decimal string (API.md): JSON numbers, exponents, signs and spaces are refused.
        ("price", 1.5),
        ("price", 389000),
        ("price", "1e5"),
        ("price", "+100.00"),
        ("price", " 100.00"),
        ("price", "1000000000000"),
        ("currency", "usd"),
        ("currency", "XYZ"),
        ("locationCountry", "ZZ"),
        ("tailNumber", "N 12345"),
        ("tailNumber", "THIS-IS-TOO-LONG"),
        ("manufacturer", ""),
        ("specifications", {"warpDrive": True}),
        ("unknownField", 1),
    ],
)
async def test_invalid_listing_input_is_422_problem(client, seller, field, value):
    response = await client.post(
        "/api/listings", json=listing_body(**{field: value}), headers=seller["headers"]
    )
    assert_problem(response, 422, "validation_failed")
    assert response.json()["errors"], response.text


async def test_price_as_a_json_number_is_refused_on_update_too(client, seller):
    listing = (await client.post("/api/listings", json=listing_body(), headers=seller["headers"])).json()
    for value in (375000, 375000.5):
        response = await client.patch(
            f"/api/listings/{listing['id']}", json={"price": value}, headers=seller["headers"]
        )
        assert_problem(response, 422, "validation_failed")
        assert [e["field"] for e in response.json()["errors"]] == ["price"], response.text
    same = await client.patch(
        f"/api/listings/{listing['id']}", json={"price": listing["price"]}, headers=seller["headers"]
    )
    assert same.json()["version"] == listing["version"]  # the same amount as a string is no change


async def test_bad_ids_and_limits_are_client_errors(client):
    assert_problem(await client.get("/api/listings/not-a-uuid"), 404, "not_found")
    assert_problem(await client.get(f"/api/listings/{uuid.uuid4()}"), 404, "not_found")
    for query in ("limit=1000", "limit=0", "yearMin=abc", "sort=cheapest", "cursor=%%%", "status=flying"):
        response = await client.get(f"/api/listings?{query}")
        assert 400 <= response.status_code < 500, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_filters_sort_and_cursor_pagination(client, seller):
    maker = "Testmaker" + uuid.uuid4().hex[:6]
    prices = ["450000.00", "150000.00", "300000.00", "250000.00", "990000.00"]
    for i, price in enumerate(prices):
        await create(client, seller, manufacturer=maker, price=price, yearManufactured=2000 + i)
    seen = []
    cursor = None
    while True:
        url = f"/api/listings?manufacturer={maker.lower()}&sort=price_asc&limit=2"
        response = await client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["price"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(prices, key=float)
    filtered = await client.get(
        f"/api/listings?manufacturer={maker}&priceMin=200000&priceMax=460000&yearMin=2002"
    )
    assert sorted(i["price"] for i in filtered.json()["items"]) == ["250000.00", "300000.00"]


async def test_withdrawn_listings_leave_public_lists(client, seller):
    maker = "Gone" + uuid.uuid4().hex[:6]
    listing = await create(client, seller, manufacturer=maker)
    assert (
        await client.delete(f"/api/listings/{listing['id']}", headers=seller["headers"])
    ).status_code == 204
    listed = await client.get(f"/api/listings?manufacturer={maker}")
    assert listed.json()["items"] == []
    assert (await client.get(f"/api/listings/{listing['id']}")).status_code == 404
    mine = await client.get(f"/api/listings/{listing['id']}", headers=seller["headers"])
    assert mine.json()["status"] == "withdrawn"

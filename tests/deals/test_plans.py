"""Plans and subscriptions through the sandbox provider; limits where they bite (402 `plan_limit_reached`)."""

from __future__ import annotations

import pytest

from app.core import db
from tests.deals.conftest import ledger_balanced, listing_body
from tests.reservations.conftest import assert_problem


@pytest.fixture(autouse=True)
async def balanced_after():
    yield
    await ledger_balanced()


async def test_plans_are_listed_with_limits(client):
    plans = (await client.get("/api/plans")).json()
    assert [p["id"] for p in plans] == ["basic", "professional", "enterprise"]
    basic = plans[0]
    assert basic["price"] == "49.00" and basic["commissionRate"] == "0.0300" and basic["interval"] == "month"
    assert set(basic["limits"]) == {"activeListings", "featuredListings", "apiRequestsPerMinute", "seats"}


async def subscribe(client, who: dict, plan: str) -> dict:
    response = await client.post("/api/subscriptions", json={"planId": plan}, headers=who["headers"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "incomplete" and body["payment"]["clientSecret"]
    paid = await client.post(f"/api/payments/sandbox/{body['payment']['id']}/succeed", headers=who["headers"])
    assert paid.status_code == 200, paid.text
    return body


async def test_subscribe_activate_cancel_and_limits(client, people):
    seller = await people.create("seller", level=1)
    assert_problem(
        await client.get("/api/subscriptions/current", headers=seller["headers"]), 404, "no_subscription"
    )
    await subscribe(client, seller, "basic")
    current = (await client.get("/api/subscriptions/current", headers=seller["headers"])).json()
    assert current["status"] == "active" and current["planId"] == "basic" and current["currentPeriodEnd"]
    assert_problem(
        await client.post("/api/subscriptions", json={"planId": "enterprise"}, headers=seller["headers"]),
        409,
        "already_subscribed",
    )
    made = []
    for _ in range(3):
        response = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
        assert response.status_code == 201, response.text
        made.append(response.json())
    body = assert_problem(
        await client.post("/api/listings", json=listing_body(), headers=seller["headers"]),
        402,
        "plan_limit_reached",
    )
    assert body["allowed"] == 3
    draft = await client.post(
        "/api/listings", params={"draft": "true"}, json=listing_body(), headers=seller["headers"]
    )
    assert draft.status_code == 201, draft.text
    assert_problem(
        await client.patch(
            f"/api/listings/{draft.json()['id']}", json={"status": "active"}, headers=seller["headers"]
        ),
        402,
        "plan_limit_reached",
    )
    cancelled = await client.delete("/api/subscriptions/current", headers=seller["headers"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "active" and cancelled.json()["cancelAtPeriodEnd"] is True
    revenue = await db.fetch(
        "SELECT amount FROM ledger_transactions WHERE type = 'subscription' AND subscription = $1::uuid",
        current["id"],
    )
    assert [str(r["amount"]) for r in revenue] == ["49.00"]


async def test_api_key_requests_are_limited_by_plan(client, accounts):
    seller = await accounts.create("seller", 1)
    made = await client.post(
        "/api/me/api-keys", json={"name": "bot", "scopes": ["read"]}, headers=seller["headers"]
    )
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["key"]}
    codes = [(await client.get("/api/offers", headers=key)).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60  # basic: 60 a minute
    assert codes[60] == 429


async def test_lapse_ends_cancelled_subscriptions(client, people):
    from app.payments import subscriptions

    seller = await people.create("seller", level=1)
    sub = await subscribe(client, seller, "professional")
    await client.delete("/api/subscriptions/current", headers=seller["headers"])
    await db.fetch(
        "UPDATE subscriptions SET current_period_end = now() - interval '1 second' WHERE id = $1::uuid",
        sub["id"],
    )
    assert await subscriptions.lapse_due() >= 1
    row = await db.fetchrow("SELECT status FROM subscriptions WHERE id = $1::uuid", sub["id"])
    assert row["status"] == "canceled"
    assert_problem(
        await client.get("/api/subscriptions/current", headers=seller["headers"]), 404, "no_subscription"
    )


async def test_an_unsubscribed_seller_is_held_to_basic_until_subscribed_and_again_after_a_lapse(
    client, people
):
    from app.payments import subscriptions

    seller = await people.create("seller", level=1)

    async def list_one():
        return await client.post("/api/listings", json=listing_body(), headers=seller["headers"])

    for _ in range(3):
        assert (await list_one()).status_code == 201
    body = assert_problem(await list_one(), 402, "plan_limit_reached")
    assert (body["plan"], body["limit"], body["allowed"]) == ("basic", "activeListings", 3)
    sub = await subscribe(client, seller, "professional")
    assert (await list_one()).status_code == 201  # professional allows 25
    await client.delete("/api/subscriptions/current", headers=seller["headers"])
    await db.fetch(
        "UPDATE subscriptions SET current_period_end = now() - interval '1 second' WHERE id = $1::uuid",
        sub["id"],
    )
    assert await subscriptions.lapse_due() >= 1
    body = assert_problem(await list_one(), 402, "plan_limit_reached")  # 4 live: back on basic's 3
    assert body["plan"] == "basic"

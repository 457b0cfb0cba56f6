"""Deposits through the sandbox provider, the signed webhook and the ledger (API.md "Plans, subscriptions and
payments"). Every test ends with the ledger consistency query."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import msgspec
import pytest

from app.core import db
from app.payments.providers.signing import sign
from tests.deals.conftest import ledger_balanced, offer
from tests.reservations.conftest import assert_problem

SECRET = "whsec_atp_sandbox_development"
HOOK = "/api/payments/webhooks/stripe"


@pytest.fixture(autouse=True)
async def balanced_after():
    yield
    await ledger_balanced()


async def open_deal(client, people, seller, listing):
    buyer = await people.create()
    o = (await offer(client, listing["id"], buyer, conditions={"depositAmount": "15000.00"})).json()
    deal = (await client.post(f"/api/offers/{o['id']}/accept", headers=seller["headers"])).json()["deal"]
    return buyer, deal


def event(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    return msgspec.json.encode(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "data": {"object": obj},
        }
    )


async def post_event(client, body: bytes, *, secret: str = SECRET, at: int | None = None):
    return await client.post(HOOK, content=body, headers={"Stripe-Signature": sign(body, secret, at)})


async def test_deposit_paid_through_the_sandbox_then_close_books_commission(
    client, people, seller, admin, listing
):
    buyer, deal = await open_deal(client, people, seller, listing)
    assert_problem(
        await client.post(f"/api/deals/{deal['id']}/close", headers=seller["headers"]),
        409,
        "deposit_not_paid",
    )
    started = await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])
    assert started.status_code == 201, started.text
    payment = started.json()
    assert (
        payment["status"] == "pending"
        and payment["provider"] == "sandbox"
        and payment["amount"] == "15000.00"
    )
    assert payment["clientSecret"].startswith(payment["providerPaymentId"])
    assert (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()["deposit"][
        "status"
    ] == "pending"
    done = await client.post(f"/api/payments/sandbox/{payment['id']}/succeed", headers=buyer["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded"
    assert (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()["deposit"][
        "status"
    ] == "paid"
    closed = await client.post(f"/api/deals/{deal['id']}/close", headers=seller["headers"])
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["commission"] == {"rate": "0.0100", "amount": "2000.00"}  # enterprise: 1 %
    assert (await client.get(f"/api/listings/{listing['id']}")).json()["status"] == "sold"
    ledger = (await client.get("/api/admin/ledger", params={"limit": 100}, headers=admin["headers"])).json()
    mine = [t for t in ledger["items"] if t["reference"]["dealId"] == deal["id"]]
    assert sorted(t["type"] for t in mine) == ["commission", "deposit", "payout"]
    for t in mine:
        assert sum(float(e["debit"]) for e in t["entries"]) == sum(float(e["credit"]) for e in t["entries"])
    check = (await client.get("/api/admin/ledger/check", headers=admin["headers"])).json()
    assert check["unbalanced"] == [] and check["totalDebits"] == check["totalCredits"]
    assert_problem(await client.get("/api/admin/ledger", headers=buyer["headers"]), 403, "forbidden")
    listed = (
        await client.get("/api/payments", params={"dealId": deal["id"]}, headers=seller["headers"])
    ).json()
    assert [p["status"] for p in listed] == ["succeeded"]


async def test_fall_through_refunds_the_paid_deposit(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    await client.post(f"/api/payments/sandbox/{payment['id']}/succeed", headers=buyer["headers"])
    fell = await client.post(
        f"/api/deals/{deal['id']}/fall-through", json={"reason": "inspection"}, headers=seller["headers"]
    )
    assert fell.status_code == 200, fell.text
    now = (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()
    assert now["deposit"]["status"] == "refunded"
    types = [
        r["type"]
        for r in await db.fetch(
            "SELECT type FROM ledger_transactions WHERE deal = $1 ORDER BY created_at", uuid.UUID(deal["id"])
        )
    ]
    assert types == ["deposit", "refund"]


async def test_bad_or_stale_signatures_store_nothing(client):
    body = event("payment_intent.succeeded", {"id": "pi_nothing"}, "evt_bad_sig_1")
    assert_problem(await post_event(client, body, secret="whsec_wrong"), 400, "invalid_signature")
    assert_problem(await post_event(client, body, at=int(time.time()) - 301), 400, "invalid_signature")
    assert_problem(await post_event(client, body, at=int(time.time()) + 301), 400, "invalid_signature")
    assert_problem(await client.post(HOOK, content=body), 400, "invalid_signature")
    tampered = body.replace(b"pi_nothing", b"pi_other")
    response = await client.post(HOOK, content=tampered, headers={"Stripe-Signature": sign(body, SECRET)})
    assert_problem(response, 400, "invalid_signature")
    assert await db.fetch("SELECT 1 FROM payment_provider_events WHERE event_id = 'evt_bad_sig_1'") == []
    ok = await post_event(client, body, at=int(time.time()) - 250)
    assert ok.status_code == 200, ok.text


async def test_replays_in_any_order_end_in_one_effect(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    pid = payment["providerPaymentId"]
    succeeded = event("payment_intent.succeeded", {"id": pid, "object": "payment_intent"})
    failed = event("payment_intent.payment_failed", {"id": pid, "object": "payment_intent"})
    bodies = [succeeded] * 50 + [failed] * 50
    random.Random(7).shuffle(bodies)
    responses = await asyncio.gather(*(post_event(client, b) for b in bodies))
    assert {r.status_code for r in responses} == {200}
    assert sum(not r.json()["duplicate"] for r in responses) == 2
    row = await db.fetchrow("SELECT status FROM payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert row["status"] == "succeeded"
    deposits = await db.fetch(
        "SELECT amount FROM ledger_transactions WHERE payment = $1 AND type = 'deposit'",
        uuid.UUID(payment["id"]),
    )
    assert [str(d["amount"]) for d in deposits] == ["15000.00"]
    assert (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()["deposit"][
        "status"
    ] == "paid"


async def test_failed_then_succeeded_and_refund_first(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    pid = payment["providerPaymentId"]
    # The refund arrives before the success it implies: both effects, once.
    for body in (
        event("charge.refunded", {"id": "ch_x", "object": "charge", "payment_intent": pid}),
        event("payment_intent.succeeded", {"id": pid}),
        event("payment_intent.payment_failed", {"id": pid}),
    ):
        assert (await post_event(client, body)).status_code == 200
    row = await db.fetchrow("SELECT status FROM payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert row["status"] == "refunded"
    types = sorted(
        r["type"]
        for r in await db.fetch(
            "SELECT type FROM ledger_transactions WHERE payment = $1", uuid.UUID(payment["id"])
        )
    )
    assert types == ["deposit", "refund"]


async def test_a_deposit_on_a_closed_deal_is_refused(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    await client.post(f"/api/deals/{deal['id']}/fall-through", json={"reason": "x"}, headers=buyer["headers"])
    assert_problem(
        await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"]), 409, "deal_closed"
    )
    assert_problem(
        await client.post(f"/api/deals/{deal['id']}/deposit", headers=seller["headers"]), 409, "not_the_buyer"
    )


async def test_a_deposit_paid_after_the_fall_through_is_refunded(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    await client.post(f"/api/deals/{deal['id']}/fall-through", json={"reason": "x"}, headers=buyer["headers"])
    done = await client.post(f"/api/payments/sandbox/{payment['id']}/succeed", headers=buyer["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "refunded"
    types = sorted(
        r["type"]
        for r in await db.fetch(
            "SELECT type FROM ledger_transactions WHERE payment = $1", uuid.UUID(payment["id"])
        )
    )
    assert types == ["deposit", "refund"]


async def test_a_provider_outage_answers_503_with_retry_after(
    client, people, seller, listing, sandbox_to_app
):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    transport, sandbox_to_app.transport = sandbox_to_app.transport, None
    url, sandbox_to_app.webhook_url = (
        sandbox_to_app.webhook_url,
        "http://127.0.0.1:9/api/payments/webhooks/stripe",
    )
    try:
        response = await client.post(
            f"/api/payments/sandbox/{payment['id']}/succeed", headers=buyer["headers"]
        )
    finally:
        sandbox_to_app.transport, sandbox_to_app.webhook_url = transport, url
    assert_problem(response, 503, "payment_provider_unavailable")
    assert int(response.headers["Retry-After"]) > 0


async def test_stripe_outage_is_a_503_problem():
    from decimal import Decimal

    from app.payments.providers import ProviderUnavailable
    from app.payments.providers.stripe_provider import StripeProvider

    provider = StripeProvider("sk_test_unreachable", api_base="http://127.0.0.1:9", retries=0)
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.create_payment(
            amount=Decimal("10.00"), currency="USD", metadata={}, idempotency_key="k"
        )
    assert caught.value.status == 503 and caught.value.code == "payment_provider_unavailable"


async def test_concurrent_deposit_clicks_start_one_payment(client, people, seller, listing):
    buyer, deal = await open_deal(client, people, seller, listing)
    answers = await asyncio.gather(
        *(client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"]) for _ in range(8))
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    rows = await db.fetch("SELECT id FROM payments WHERE deal = $1", uuid.UUID(deal["id"]))
    assert len(rows) == 1

"""The Stripe provider end to end: the official `stripe` library, over HTTP, against the sandbox's Stripe
face (`app/payments/providers/sandbox_http.py`), whose signed events come back to our webhook."""

from __future__ import annotations

import asyncio
import socket
import uuid

import httpx
import msgspec
import pytest
import stripe

from app.core import db
from tests.deals.conftest import ledger_balanced, offer
from tests.reservations.conftest import assert_problem

VISA, DECLINED = "pm_card_visa", "pm_card_chargeDeclined"


@pytest.fixture(autouse=True)
async def balanced_after():
    yield
    await ledger_balanced()


@pytest.fixture(scope="module")
async def standin(app):
    """The sandbox behind Stripe's wire format on a loopback port, delivering to the app under test."""
    import uvicorn

    from app.payments.providers.sandbox import StripeSandbox
    from app.payments.providers.sandbox_http import stripe_api

    sandbox = StripeSandbox(
        webhook_url="http://testserver/api/payments/webhooks/stripe",
        webhook_secret=app.state.settings.stripe_webhook_secret,
        transport=httpx.ASGITransport(app=app),
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(stripe_api(sandbox), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), serving
        await asyncio.sleep(0.02)
    sandbox.api_base = f"http://127.0.0.1:{port}"
    yield sandbox
    server.should_exit = True
    await serving


@pytest.fixture
async def stripe_provider(app, standin):
    """The app's payments go to the Stripe provider (the `stripe` library at ATP_STRIPE_API_BASE)."""
    from app.payments.providers import build_provider

    settings = msgspec.structs.replace(
        app.state.settings, stripe_secret_key="sk_test_atp_standin", stripe_api_base=standin.api_base
    )
    provider = build_provider(settings)
    assert provider.name == "stripe"
    previous, app.state.payments = app.state.payments, provider
    yield provider
    app.state.payments = previous


async def open_deal(client, people, seller, listing):
    buyer = await people.create()
    made = (await offer(client, listing["id"], buyer, conditions={"depositAmount": "15000.00"})).json()
    deal = (await client.post(f"/api/offers/{made['id']}/accept", headers=seller["headers"])).json()["deal"]
    return buyer, deal


async def ledger_types(column: str, value: str) -> list[str]:
    rows = await db.fetch(
        f"SELECT type FROM ledger_transactions WHERE {column} = $1 ORDER BY created_at", uuid.UUID(value)
    )
    return [r["type"] for r in rows]


async def test_deposit_paid_at_stripe_then_refunded_on_fall_through(
    client, people, seller, listing, stripe_provider
):
    buyer, deal = await open_deal(client, people, seller, listing)
    started = await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["provider"] == "stripe" and payment["providerPaymentId"].startswith("pi_")
    assert payment["clientSecret"].startswith(payment["providerPaymentId"] + "_secret_")
    # The buyer's card is confirmed at Stripe (what Stripe.js does); Stripe posts the signed event to us.
    confirmed = await stripe_provider.client.v1.payment_intents.confirm_async(
        payment["providerPaymentId"], params={"payment_method": VISA}
    )
    assert confirmed.status == "succeeded" and confirmed.object == "payment_intent"
    now = (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()
    assert now["deposit"]["status"] == "paid"
    assert await ledger_types("deal", deal["id"]) == ["deposit"]
    fell = await client.post(
        f"/api/deals/{deal['id']}/fall-through", json={"reason": "inspection"}, headers=seller["headers"]
    )
    assert fell.status_code == 200, fell.text
    now = (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()
    assert now["deposit"]["status"] == "refunded"
    assert await ledger_types("deal", deal["id"]) == ["deposit", "refund"]
    row = await db.fetchrow("SELECT status, provider FROM payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert (row["status"], row["provider"]) == ("refunded", "stripe")


async def test_a_declined_card_fails_the_payment_and_the_deposit_can_be_paid_again(
    client, people, seller, listing, stripe_provider
):
    buyer, deal = await open_deal(client, people, seller, listing)
    payment = (await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])).json()
    with pytest.raises(stripe.CardError) as declined:
        await stripe_provider.client.v1.payment_intents.confirm_async(
            payment["providerPaymentId"], params={"payment_method": DECLINED}
        )
    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    row = await db.fetchrow("SELECT status FROM payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert row["status"] == "failed"
    now = (await client.get(f"/api/deals/{deal['id']}", headers=buyer["headers"])).json()
    assert now["deposit"]["status"] == "required"
    again = await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])
    assert again.status_code == 201, again.text
    assert again.json()["providerPaymentId"] != payment["providerPaymentId"]


async def test_subscription_is_stripe_billing_paid_renewed_cancelled_and_lapsed(
    client, people, standin, stripe_provider
):
    seller = await people.create("seller", level=1)
    made = await client.post("/api/subscriptions", json={"planId": "professional"}, headers=seller["headers"])
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "incomplete" and body["payment"]["clientSecret"]
    row = await db.fetchrow("SELECT * FROM subscriptions WHERE id = $1::uuid", body["id"])
    sub = standin.objects[row["provider_subscription_id"]]
    assert sub["object"] == "subscription" and sub["customer"].startswith("cus_")
    assert sub["items"]["data"][0]["price"]["unit_amount"] == 19900
    invoice_id = sub["latest_invoice"]
    payment = await db.fetchrow("SELECT * FROM payments WHERE id = $1::uuid", body["payment"]["id"])
    assert payment["provider_payment_id"] == invoice_id and payment["kind"] == "subscription"
    # First invoice paid at Stripe → `invoice.paid` → active, one period booked.
    paid = await stripe_provider.client.v1.invoices.pay_async(invoice_id, params={"payment_method": VISA})
    assert paid.status == "paid"
    current = (await client.get("/api/subscriptions/current", headers=seller["headers"])).json()
    assert current["status"] == "active" and current["planId"] == "professional"
    assert await ledger_types("subscription", body["id"]) == ["subscription"]
    # The period ends at Stripe: the next invoice is paid and renews ours.
    period_end = current["currentPeriodEnd"]
    async with httpx.AsyncClient(base_url=standin.api_base) as api:
        renewed = await api.post(
            f"/v1/test_helpers/atp/subscriptions/{sub['id']}/renew",
            headers={"Authorization": "Bearer sk_test_atp_standin"},
        )
    assert renewed.status_code == 200, renewed.text
    current = (await client.get("/api/subscriptions/current", headers=seller["headers"])).json()
    assert current["currentPeriodEnd"] > period_end
    assert await ledger_types("subscription", body["id"]) == ["subscription", "subscription"]
    amounts = await db.fetch(
        "SELECT amount FROM ledger_transactions WHERE subscription = $1::uuid", body["id"]
    )
    assert [str(a["amount"]) for a in amounts] == ["199.00", "199.00"]
    # Cancel at period end (Stripe's `customer.subscription.updated`), then the period ends: deleted.
    cancelled = await client.delete("/api/subscriptions/current", headers=seller["headers"])
    assert cancelled.status_code == 200 and cancelled.json()["cancelAtPeriodEnd"] is True
    assert standin.objects[sub["id"]]["cancel_at_period_end"] is True
    await standin.renew(sub["id"])
    row = await db.fetchrow("SELECT status FROM subscriptions WHERE id = $1::uuid", body["id"])
    assert row["status"] == "canceled"
    assert_problem(
        await client.get("/api/subscriptions/current", headers=seller["headers"]), 404, "no_subscription"
    )


async def test_the_standin_speaks_stripes_wire_format(standin, stripe_provider):
    """Idempotency keys, Stripe's error bodies and statuses, as the official library reads them."""
    payments = stripe_provider.client.v1.payment_intents
    params = {"amount": 1000, "currency": "usd", "metadata": {"dealId": "x"}}
    first = await payments.create_async(params=params, options={"idempotency_key": "wire-1"})
    again = await payments.create_async(params=params, options={"idempotency_key": "wire-1"})
    assert first.id == again.id and first.metadata["dealId"] == "x"
    with pytest.raises(stripe.IdempotencyError):
        await payments.create_async(params={**params, "amount": 2000}, options={"idempotency_key": "wire-1"})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await stripe_provider.client.v1.refunds.create_async(params={"payment_intent": "pi_nope"})
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as unpaid:
        await stripe_provider.client.v1.refunds.create_async(params={"payment_intent": first.id})
    assert unpaid.value.code == "charge_not_refundable"
    with pytest.raises(stripe.InvalidRequestError) as bad:
        await payments.create_async(params={"amount": -5, "currency": "usd"})
    assert bad.value.param == "amount"
    async with httpx.AsyncClient(base_url=standin.api_base) as api:
        anonymous = await api.post("/v1/payment_intents", data={"amount": "100", "currency": "usd"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "invalid_request_error"

"""The development payment provider: behaves like Stripe and posts Stripe-signed events to our webhook.

Nothing leaves the machine. Payments and subscriptions get Stripe-shaped ids; a person finishes a
payment with `POST /api/payments/sandbox/{id}/succeed|fail`, which makes the sandbox deliver
`payment_intent.succeeded` / `payment_intent.payment_failed` exactly as Stripe would: a JSON event,
signed with the webhook secret, POSTed to `/api/payments/webhooks/stripe`.
"""

from __future__ import annotations

import logging
import secrets
import time
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from app.payments.providers import Intent, ProviderUnavailable, minor_units
from app.payments.providers.signing import sign

log = logging.getLogger("atp.payments.sandbox")


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self, *, webhook_url: str, webhook_secret: str, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        # Tests hand in an ASGI transport so that deliveries reach the app under test.
        self.transport = transport

    async def create_payment(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        pid = f"pi_sbx_{secrets.token_hex(12)}"
        return Intent(id=pid, client_secret=f"{pid}_secret_{secrets.token_hex(8)}")

    async def create_subscription(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        intent = await self.create_payment(
            amount=amount, currency=currency, metadata=metadata, idempotency_key=idempotency_key
        )
        return Intent(
            id=intent.id,
            client_secret=intent.client_secret,
            subscription_id=f"sub_sbx_{secrets.token_hex(12)}",
        )

    async def refund(self, *, provider_payment_id: str, idempotency_key: str) -> None:
        await self.deliver(
            "charge.refunded",
            {
                "id": f"ch_sbx_{secrets.token_hex(12)}",
                "object": "charge",
                "payment_intent": provider_payment_id,
                "refunded": True,
            },
        )

    async def cancel_subscription(self, *, provider_subscription_id: str) -> None:
        await self.deliver(
            "customer.subscription.updated",
            {
                "id": provider_subscription_id,
                "object": "subscription",
                "status": "active",
                "cancel_at_period_end": True,
            },
        )

    async def finish_payment(
        self, provider_payment_id: str, *, succeed: bool, amount: Decimal, currency: str
    ) -> None:
        """What a card confirmation does at Stripe: the intent succeeds or fails, and the event is sent."""
        obj = {
            "id": provider_payment_id,
            "object": "payment_intent",
            "amount": minor_units(amount),
            "currency": currency.lower(),
            "status": "succeeded" if succeed else "requires_payment_method",
        }
        await self.deliver("payment_intent.succeeded" if succeed else "payment_intent.payment_failed", obj)

    def event(self, event_type: str, obj: dict[str, Any]) -> bytes:
        """A Stripe-shaped event body."""
        return msgspec.json.encode(
            {
                "id": f"evt_sbx_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": "2025-01-27",
                "created": int(time.time()),
                "livemode": False,
                "type": event_type,
                "data": {"object": obj},
            }
        )

    async def deliver(self, event_type: str, obj: dict[str, Any]) -> None:
        """POST one signed event to our webhook endpoint, as Stripe does (503 to the caller if it fails)."""
        body = self.event(event_type, obj)
        headers = {"Stripe-Signature": sign(body, self.webhook_secret), "Content-Type": "application/json"}
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                response = await client.post(self.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("sandbox could not deliver %s: %s", event_type, exc)
            raise ProviderUnavailable("the sandbox provider could not deliver its event") from None
        if response.status_code >= 300:
            log.warning("sandbox delivery of %s answered %s", event_type, response.status_code)
            raise ProviderUnavailable("the webhook endpoint refused the sandbox event")

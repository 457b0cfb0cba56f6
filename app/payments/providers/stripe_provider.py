"""Stripe through the official `stripe` library (used when ATP_STRIPE_SECRET_KEY is set).

Subscriptions are charged as one PaymentIntent per period here; a Stripe Billing subscription (Customer,
Price) is the next step, and its `invoice.paid` events are already understood by the webhook.
"""

from __future__ import annotations

from decimal import Decimal

import stripe

from app.payments.providers import Intent, ProviderUnavailable, minor_units


class StripeProvider:
    name = "stripe"

    def __init__(self, secret_key: str, *, api_base: str | None = None, retries: int = 2) -> None:
        options = {"base_addresses": {"api": api_base}} if api_base else {}
        self.client = stripe.StripeClient(secret_key, max_network_retries=retries, **options)

    async def create_payment(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={"amount": minor_units(amount), "currency": currency.lower(), "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc
        except stripe.APIError as exc:
            raise ProviderUnavailable("Stripe failed; retry shortly") from exc
        return Intent(id=intent.id, client_secret=intent.client_secret or "")

    async def create_subscription(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        return await self.create_payment(
            amount=amount, currency=currency, metadata=metadata, idempotency_key=idempotency_key
        )

    async def refund(self, *, provider_payment_id: str, idempotency_key: str) -> None:
        try:
            await self.client.v1.refunds.create_async(
                params={"payment_intent": provider_payment_id}, options={"idempotency_key": idempotency_key}
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc

    async def cancel_subscription(self, *, provider_subscription_id: str) -> None:
        try:
            await self.client.v1.subscriptions.update_async(
                provider_subscription_id, params={"cancel_at_period_end": True}
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc

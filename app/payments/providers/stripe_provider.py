"""Stripe through the official `stripe` library (used when ATP_STRIPE_SECRET_KEY is set).

Deposits are PaymentIntents. Subscriptions are Stripe Billing: a Customer, the plan's monthly Price
(made once per plan and process, found again by its idempotency key), and a Subscription created
`default_incomplete`, whose first Invoice is our pending payment; Stripe's `invoice.paid` activates
and then renews it. `ATP_STRIPE_API_BASE` points the library elsewhere (the sandbox's HTTP face in tests).
"""

from __future__ import annotations

from decimal import Decimal

import stripe

from app.payments.providers import Intent, ProviderUnavailable, minor_units

_UNAVAILABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError, stripe.AuthenticationError)


class StripeProvider:
    name = "stripe"

    def __init__(self, secret_key: str, *, api_base: str | None = None, retries: int = 2) -> None:
        options = {"base_addresses": {"api": api_base}} if api_base else {}
        self.client = stripe.StripeClient(secret_key, max_network_retries=retries, **options)
        self._prices: dict[tuple[str, int, str], str] = {}

    async def create_payment(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={"amount": minor_units(amount), "currency": currency.lower(), "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except _UNAVAILABLE as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"Stripe refused the payment: {exc.user_message or exc}") from exc
        return Intent(id=intent.id, client_secret=intent.client_secret or "")

    async def create_subscription(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        try:
            customer = await self.client.v1.customers.create_async(
                params={"metadata": metadata}, options={"idempotency_key": f"{idempotency_key}:customer"}
            )
            price = await self._price(metadata.get("plan", "plan"), minor_units(amount), currency.lower())
            sub = await self.client.v1.subscriptions.create_async(
                params={
                    "customer": customer.id,
                    "items": [{"price": price}],
                    "metadata": metadata,
                    "payment_behavior": "default_incomplete",
                    "expand": ["latest_invoice.confirmation_secret"],
                },
                options={"idempotency_key": idempotency_key},
            )
        except _UNAVAILABLE as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"Stripe refused the subscription: {exc.user_message or exc}") from exc
        invoice = sub.latest_invoice
        confirmation = getattr(invoice, "confirmation_secret", None)
        secret = getattr(confirmation, "client_secret", None) or ""
        return Intent(id=invoice.id, client_secret=secret, subscription_id=sub.id)

    async def _price(self, plan: str, unit_amount: int, currency: str) -> str:
        """The plan's monthly Price (one per plan, amount and currency)."""
        key = (plan, unit_amount, currency)
        if key not in self._prices:
            lookup = f"atp-{plan}-{currency}-{unit_amount}-month"
            price = await self.client.v1.prices.create_async(
                params={
                    "currency": currency,
                    "unit_amount": unit_amount,
                    "recurring": {"interval": "month"},
                    "product_data": {"name": f"ATP {plan}"},
                    "lookup_key": lookup,
                    "transfer_lookup_key": True,
                },
                options={"idempotency_key": f"price:{lookup}"},
            )
            self._prices[key] = price.id
        return self._prices[key]

    async def refund(self, *, provider_payment_id: str, idempotency_key: str) -> None:
        try:
            await self.client.v1.refunds.create_async(
                params={"payment_intent": provider_payment_id}, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable("Stripe did not take the refund; retry shortly") from exc

    async def cancel_subscription(self, *, provider_subscription_id: str) -> None:
        try:
            await self.client.v1.subscriptions.update_async(
                provider_subscription_id, params={"cancel_at_period_end": True}
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable("Stripe is not answering; retry shortly") from exc

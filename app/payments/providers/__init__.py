"""One payment capability, several vendors: the sandbox (development default) and Stripe."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import msgspec

from app.core.errors import ServiceUnavailable


class Intent(msgspec.Struct, frozen=True):
    """A payment the provider is waiting for: its id (our `providerPaymentId`) and the client's secret."""

    id: str
    client_secret: str
    subscription_id: str | None = None


class ProviderUnavailable(ServiceUnavailable):
    code, title = "payment_provider_unavailable", "The payment provider is not answering"


class PaymentProvider(Protocol):
    """What ATP asks of a payment provider; its events come back through the signed webhook."""

    name: str

    async def create_payment(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent: ...

    async def create_subscription(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent: ...

    async def refund(self, *, provider_payment_id: str, idempotency_key: str) -> None: ...

    async def cancel_subscription(self, *, provider_subscription_id: str) -> None: ...


def minor_units(amount: Decimal) -> int:
    """Stripe's integer amount (cents) of a two-decimal currency amount."""
    return int((amount * 100).to_integral_exact())


def build_provider(settings) -> PaymentProvider:
    """Stripe when ATP_STRIPE_SECRET_KEY is set, otherwise the sandbox."""
    if settings.stripe_secret_key:
        from app.payments.providers.stripe_provider import StripeProvider

        return StripeProvider(settings.stripe_secret_key, api_base=settings.stripe_api_base or None)
    from app.payments.providers.sandbox import SandboxProvider

    return SandboxProvider(
        webhook_url=settings.sandbox_webhook_url, webhook_secret=settings.stripe_webhook_secret
    )

"""The development payment provider: a stand-in for Stripe that posts Stripe-signed events to our webhook.

One stand-in, two faces. `StripeSandbox` keeps Stripe's objects (payment intents, refunds, customers,
prices, subscriptions, invoices) in memory, honours idempotency keys, and delivers each change as
Stripe would: a JSON event signed with the webhook secret, POSTed to `/api/payments/webhooks/stripe`.
`SandboxProvider` uses it in process (the default under `make run`); `sandbox_http.stripe_api` puts
Stripe's REST wire format in front of it, so that the official `stripe` library — our `StripeProvider`
— runs against it with `ATP_STRIPE_API_BASE`.

Where it differs from Stripe, on purpose: events are delivered before the call that caused them
answers (in order, no retries), and `renew` stands in for a test clock reaching the period's end.
A person finishes a payment with `POST /api/payments/sandbox/{id}/succeed|fail`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from app.payments.providers import Intent, ProviderUnavailable, minor_units
from app.payments.providers.signing import sign

log = logging.getLogger("atp.payments.sandbox")

PERIOD_S = 30 * 24 * 3600
DECLINED_CARD = "pm_card_chargeDeclined"


class StripeError(Exception):
    """An error as Stripe answers it: HTTP status and `{"error": {type, code, message, param}}`."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", code: str = "", param=""
    ):
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {"type": type, "code": code, "message": message, **({"param": param} if param else {})}
        }


def _id(prefix: str) -> str:
    return f"{prefix}_sbx_{secrets.token_hex(12)}"


def _amount(params: dict[str, Any], name: str = "amount") -> int:
    value = params.get(name)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 1:
        raise StripeError(
            400, f"Invalid positive integer: {name}", code="parameter_invalid_integer", param=name
        )
    return value


def _currency(params: dict[str, Any]) -> str:
    currency = params.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise StripeError(400, "Invalid currency", code="parameter_invalid_string", param="currency")
    return currency.lower()


class StripeSandbox:
    """Stripe's objects and events, in memory; each call takes and returns Stripe-shaped dicts."""

    def __init__(
        self, *, webhook_url: str, webhook_secret: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        # Tests hand in an ASGI transport so that deliveries reach the app under test.
        self.transport = transport
        self.objects: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[Any, int, Any]] = {}
        self._in_flight: set[str] = set()

    # --- idempotency (Stripe: same key and same parameters → the first answer again) ---------------

    async def idempotent(self, key: str | None, request: Any, call: Callable[[], Awaitable[Any]]) -> Any:
        if not key:
            return await call()
        seen = self._idempotent.get(key)
        if seen is not None:
            first_request, status, answer = seen
            if first_request != request:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    type="idempotency_error",
                )
            if status != 200:
                raise answer
            return answer
        if key in self._in_flight:  # Stripe answers 409 to a concurrent request with the key; clients retry
            raise StripeError(
                409,
                "There is currently another in-progress request using this Stripe key.",
                code="idempotency_key_in_use",
            )
        self._in_flight.add(key)
        try:
            answer = await call()
        except StripeError as exc:
            if exc.status < 500:
                self._idempotent[key] = (request, exc.status, exc)
            raise
        finally:
            self._in_flight.discard(key)
        self._idempotent[key] = (request, 200, answer)
        return answer

    def get(self, object_id: str, kind: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
        return obj

    # --- payment intents and refunds ---------------------------------------------------------------

    async def create_payment_intent(
        self, params: dict[str, Any], *, invoice: str | None = None
    ) -> dict[str, Any]:
        pid = _id("pi")
        intent = {
            "id": pid,
            "object": "payment_intent",
            "amount": _amount(params),
            "currency": _currency(params),
            "status": "requires_payment_method",
            "client_secret": f"{pid}_secret_{secrets.token_hex(8)}",
            "metadata": dict(params.get("metadata") or {}),
            "created": int(time.time()),
            "livemode": False,
        }
        if invoice:
            intent["invoice"] = invoice
        self.objects[pid] = intent
        return intent

    async def confirm_payment_intent(self, pid: str, params: dict[str, Any]) -> dict[str, Any]:
        """The card holder confirms: `pm_card_chargeDeclined` fails (402 card_error), any other card succeeds."""
        intent = self.get(pid, "payment_intent")
        if intent["status"] == "succeeded":
            raise StripeError(
                400, "This PaymentIntent has already succeeded.", code="payment_intent_unexpected_state"
            )
        if params.get("payment_method") == DECLINED_CARD:
            intent["status"] = "requires_payment_method"
            await self.deliver("payment_intent.payment_failed", intent)
            raise StripeError(402, "Your card was declined.", type="card_error", code="card_declined")
        intent["status"] = "succeeded"
        intent["latest_charge"] = _id("ch")
        await self.deliver("payment_intent.succeeded", intent)
        if intent.get("invoice"):
            await self._invoice_paid(self.get(intent["invoice"], "invoice"))
        return intent

    async def create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = self.get(str(params.get("payment_intent") or ""), "payment_intent")
        if intent["status"] != "succeeded":
            raise StripeError(
                400,
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        if intent.get("refunded"):
            raise StripeError(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        intent["refunded"] = True
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": intent["amount"],
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.objects[refund["id"]] = refund
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": intent["amount"],
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "refunded": True,
        }
        await self.deliver("charge.refunded", charge)
        return refund

    # --- Billing: customers, prices, subscriptions, invoices -----------------------------------------

    async def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _id("cus"),
            "object": "customer",
            "metadata": dict(params.get("metadata") or {}),
            "email": params.get("email"),
            "created": int(time.time()),
        }
        self.objects[customer["id"]] = customer
        return customer

    async def create_price(self, params: dict[str, Any]) -> dict[str, Any]:
        recurring = params.get("recurring") or {}
        if recurring.get("interval") not in ("day", "week", "month", "year"):
            raise StripeError(
                400,
                "Missing required param: recurring[interval].",
                code="parameter_missing",
                param="recurring[interval]",
            )
        price = {
            "id": _id("price"),
            "object": "price",
            "currency": _currency(params),
            "unit_amount": _amount(params, "unit_amount"),
            "recurring": {"interval": recurring["interval"]},
            "lookup_key": params.get("lookup_key"),
            "product": _id("prod"),
        }
        self.objects[price["id"]] = price
        return price

    async def create_subscription(self, params: dict[str, Any]) -> dict[str, Any]:
        """`payment_behavior=default_incomplete`: the subscription waits, `incomplete`, for its first invoice."""
        customer = self.get(str(params.get("customer") or ""), "customer")
        items = params.get("items") or []
        if not items or not isinstance(items[0], dict):
            raise StripeError(400, "Missing required param: items.", code="parameter_missing", param="items")
        price = self.get(str(items[0].get("price") or ""), "price")
        now = int(time.time())
        sub = {
            "id": _id("sub"),
            "object": "subscription",
            "customer": customer["id"],
            "status": "incomplete",
            "cancel_at_period_end": False,
            "metadata": dict(params.get("metadata") or {}),
            "items": {"object": "list", "data": [{"object": "subscription_item", "price": price}]},
            "current_period_start": now,
            "current_period_end": now + PERIOD_S,
        }
        self.objects[sub["id"]] = sub
        invoice = await self._invoice(sub, price, now, now + PERIOD_S)
        sub["latest_invoice"] = invoice["id"]
        answer = dict(sub)
        if "latest_invoice.confirmation_secret" in (params.get("expand") or []):
            answer["latest_invoice"] = invoice
        return answer

    async def update_subscription(self, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
        sub = self.get(sub_id, "subscription")
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] in (True, "true")
        await self.deliver("customer.subscription.updated", sub)
        return sub

    async def pay_invoice(self, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
        invoice = self.get(invoice_id, "invoice")
        if invoice["status"] == "paid":
            raise StripeError(400, "Invoice is already paid", code="invoice_already_paid")
        await self.confirm_payment_intent(invoice["payment_intent"], params)
        return invoice

    async def renew(self, sub_id: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The period ended (a test clock's advance at Stripe): the next invoice is charged, or the
        subscription cancelled at period end is deleted."""
        sub = self.get(sub_id, "subscription")
        if sub["cancel_at_period_end"]:
            sub["status"] = "canceled"
            await self.deliver("customer.subscription.deleted", sub)
            return sub
        start, end = sub["current_period_end"], sub["current_period_end"] + PERIOD_S
        sub["current_period_start"], sub["current_period_end"] = start, end
        invoice = await self._invoice(sub, sub["items"]["data"][0]["price"], start, end)
        sub["latest_invoice"] = invoice["id"]
        await self.confirm_payment_intent(invoice["payment_intent"], {"payment_method": "pm_card_visa"})
        return sub

    async def _invoice(
        self, sub: dict[str, Any], price: dict[str, Any], start: int, end: int
    ) -> dict[str, Any]:
        invoice_id = _id("in")
        intent = await self.create_payment_intent(
            {"amount": price["unit_amount"], "currency": price["currency"]}, invoice=invoice_id
        )
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "subscription": sub["id"],  # before API version 2025-03-31; since then under `parent`
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}},
            "status": "open",
            "amount_due": price["unit_amount"],
            "amount_paid": 0,
            "currency": price["currency"],
            "period_start": start,
            "period_end": end,
            "lines": {"object": "list", "data": [{"period": {"start": start, "end": end}}]},
            "payment_intent": intent["id"],
            "confirmation_secret": {"client_secret": intent["client_secret"], "type": "payment_intent"},
        }
        self.objects[invoice_id] = invoice
        return invoice

    async def _invoice_paid(self, invoice: dict[str, Any]) -> None:
        invoice["status"], invoice["amount_paid"] = "paid", invoice["amount_due"]
        sub = self.get(invoice["subscription"], "subscription")
        if sub["status"] in ("incomplete", "past_due"):
            sub["status"] = "active"
        await self.deliver("invoice.paid", invoice)

    # --- events ----------------------------------------------------------------------------------------

    def event(self, event_type: str, obj: dict[str, Any]) -> bytes:
        """A Stripe-shaped event body."""
        return msgspec.json.encode(
            {
                "id": _id("evt"),
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


class SandboxProvider:
    """`PaymentProvider` on the in-process `StripeSandbox`: the same calls `StripeProvider` makes over HTTP."""

    name = "sandbox"

    def __init__(
        self, *, webhook_url: str, webhook_secret: str, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.stripe = StripeSandbox(
            webhook_url=webhook_url, webhook_secret=webhook_secret, transport=transport
        )
        self._prices: dict[tuple[str, int, str], str] = {}

    # Tests point deliveries at the app under test through these.
    @property
    def transport(self) -> httpx.AsyncBaseTransport | None:
        return self.stripe.transport

    @transport.setter
    def transport(self, value: httpx.AsyncBaseTransport | None) -> None:
        self.stripe.transport = value

    @property
    def webhook_url(self) -> str:
        return self.stripe.webhook_url

    @webhook_url.setter
    def webhook_url(self, value: str) -> None:
        self.stripe.webhook_url = value

    async def create_payment(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        params = {"amount": minor_units(amount), "currency": currency.lower(), "metadata": metadata}
        intent = await self._call(idempotency_key, params, self.stripe.create_payment_intent)
        return Intent(id=intent["id"], client_secret=intent["client_secret"])

    async def create_subscription(
        self, *, amount: Decimal, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Intent:
        """A Billing subscription: customer, the plan's monthly price, an `incomplete` subscription whose
        first invoice is our payment."""
        customer = await self._call(
            f"{idempotency_key}:customer", {"metadata": metadata}, self.stripe.create_customer
        )
        key = (metadata.get("plan", "plan"), minor_units(amount), currency.lower())
        if key not in self._prices:
            price = await self.stripe.create_price(
                {
                    "currency": key[2],
                    "unit_amount": key[1],
                    "recurring": {"interval": "month"},
                    "lookup_key": f"atp-{key[0]}-{key[2]}-{key[1]}",
                }
            )
            self._prices[key] = price["id"]
        params = {
            "customer": customer["id"],
            "items": [{"price": self._prices[key]}],
            "metadata": metadata,
            "payment_behavior": "default_incomplete",
            "expand": ["latest_invoice.confirmation_secret"],
        }
        sub = await self._call(idempotency_key, params, self.stripe.create_subscription)
        invoice = sub["latest_invoice"]
        return Intent(
            id=invoice["id"],
            client_secret=invoice["confirmation_secret"]["client_secret"],
            subscription_id=sub["id"],
        )

    async def refund(self, *, provider_payment_id: str, idempotency_key: str) -> None:
        if provider_payment_id not in self.stripe.objects:  # paid before a restart: we only refund paid ones
            self.stripe.objects[provider_payment_id] = {
                "id": provider_payment_id,
                "object": "payment_intent",
                "amount": 0,
                "currency": "usd",
                "status": "succeeded",
                "latest_charge": _id("ch"),
                "metadata": {},
            }
        await self._call(idempotency_key, {"payment_intent": provider_payment_id}, self.stripe.create_refund)

    async def cancel_subscription(self, *, provider_subscription_id: str) -> None:
        if provider_subscription_id not in self.stripe.objects:  # made before a restart
            self.stripe.objects[provider_subscription_id] = {
                "id": provider_subscription_id,
                "object": "subscription",
                "status": "active",
                "cancel_at_period_end": False,
                "metadata": {},
            }
        await self._call(
            None,
            {"cancel_at_period_end": True},
            lambda params: self.stripe.update_subscription(provider_subscription_id, params),
        )

    async def finish_payment(
        self, provider_payment_id: str, *, succeed: bool, amount: Decimal, currency: str
    ) -> None:
        """What a card confirmation does at Stripe: the intent (or invoice) is paid or declined, and the
        events are sent. A payment this process never saw (made before a restart) is adopted first."""
        if provider_payment_id not in self.stripe.objects and provider_payment_id.startswith("pi_"):
            self.stripe.objects[provider_payment_id] = {
                "id": provider_payment_id,
                "object": "payment_intent",
                "amount": minor_units(amount),
                "currency": currency.lower(),
                "status": "requires_payment_method",
                "metadata": {},
            }
        params = {"payment_method": "pm_card_visa" if succeed else DECLINED_CARD}
        try:
            if provider_payment_id.startswith("in_"):
                await self.stripe.pay_invoice(provider_payment_id, params)
            else:
                await self.stripe.confirm_payment_intent(provider_payment_id, params)
        except StripeError as exc:
            if exc.body["error"]["type"] != "card_error":
                raise ProviderUnavailable(exc.body["error"]["message"]) from None

    async def renew(self, provider_subscription_id: str) -> None:
        """The subscription's period ends now (development and tests): `invoice.paid` renews it."""
        await self.stripe.renew(provider_subscription_id)

    async def _call(self, key: str | None, params: dict[str, Any], call) -> dict[str, Any]:
        try:
            return await self.stripe.idempotent(key, params, lambda: call(params))
        except StripeError as exc:
            raise ProviderUnavailable(exc.body["error"]["message"]) from None

"""HTTP endpoints of plans, subscriptions, payments, the provider webhook and the admin ledger."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated

import msgspec
import stripe
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.auth.principal import Principal
from app.core import db
from app.core.errors import AppError, Forbidden, NotFound
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.payments import queries, service, subscriptions
from app.payments.schemas import (
    AccountBalance,
    LedgerCheck,
    LedgerTransactionRead,
    PaymentRead,
    PlanRead,
    SubscriptionCreate,
    SubscriptionRead,
    WebhookAck,
)

log = logging.getLogger("atp.payments")

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
TOLERANCE_S = 300
DEV_SECRET = "whsec_atp_sandbox_development"


class InvalidSignature(AppError):
    status, code, title = 400, "invalid_signature", "The Stripe-Signature header does not verify"


def verify(body: bytes, header: str | None, secret: str) -> dict:
    """The event of a body whose `Stripe-Signature` verifies within ±300 s (the stripe library's verifier
    checks the HMAC in constant time and staleness; a timestamp from the future is refused here)."""
    try:
        stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=TOLERANCE_S)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidSignature(str(exc)[:200] or "invalid signature") from None
    stamps = [p[2:] for p in (header or "").split(",") if p.startswith("t=")]
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > time.time() + TOLERANCE_S:
        raise InvalidSignature("the signature's timestamp is outside the tolerance")
    try:
        event = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidSignature("the body is not a JSON event") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
    ):
        raise InvalidSignature("the body is not a provider event")
    return event


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("admins only")


class PlanController(Controller):
    path = "/api"
    tags = ["payments"]

    @get("/plans", summary="Plans with price, commission rate and limits")
    async def list_plans(self) -> list[PlanRead]:
        return await subscriptions.list_plans()

    @post("/subscriptions", security=SECURED, status_code=201, summary="Subscribe to a plan")
    async def subscribe(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[SubscriptionCreate]
    ) -> SubscriptionRead:
        return await subscriptions.subscribe(request.app.state.payments, principal, data)

    @get("/subscriptions/current", security=SECURED, summary="The caller's subscription (404 when none)")
    async def current_subscription(self, principal: NamedDependency[Principal]) -> SubscriptionRead:
        return await subscriptions.current(principal)

    @delete("/subscriptions/current", security=SECURED, status_code=200, summary="Cancel at period end")
    async def cancel_subscription(
        self, request: Request, principal: NamedDependency[Principal]
    ) -> SubscriptionRead:
        return await subscriptions.cancel(request.app.state.payments, principal)


class PaymentController(Controller):
    path = "/api/payments"
    tags = ["payments"]

    @post(
        "/webhooks/stripe",
        status_code=200,
        summary="Provider events, signed like Stripe (`Stripe-Signature`); a repeated event id changes nothing",
    )
    async def stripe_webhook(self, request: Request) -> WebhookAck:
        settings = request.app.state.settings
        if settings.is_production and settings.stripe_webhook_secret == DEV_SECRET:
            raise InvalidSignature("no webhook secret is configured")
        body = await request.body()
        event = verify(body, request.headers.get("stripe-signature"), settings.stripe_webhook_secret)
        provider = request.app.state.payments.name
        applied, refunds = await service.apply_event(provider, event, body)
        for payment_id in refunds:  # money that arrived for a deal that had already fallen through
            await service.refund_after_commit(request.app.state.payments, payment_id)
        return WebhookAck(received=True, duplicate=not applied)

    @get("/", security=SECURED, summary="Payments of a deal (its parties) or the caller's own")
    async def list_payments(
        self,
        principal: NamedDependency[Principal],
        deal_id: Annotated[uuid.UUID | None, QueryParameter(name="dealId")] = None,
    ) -> list[PaymentRead]:
        return await service.list_payments(principal, deal_id)

    @post(
        "/sandbox/{payment_id:uuid}/{outcome:str}",
        security=SECURED,
        status_code=200,
        summary="Development only: finish a sandbox payment (`succeed` or `fail`) as the card holder would",
    )
    async def finish_sandbox_payment(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        payment_id: FromPath[uuid.UUID],
        outcome: FromPath[str],
    ) -> PaymentRead:
        provider = request.app.state.payments
        if (
            request.app.state.settings.is_production
            or provider.name != "sandbox"
            or outcome not in ("succeed", "fail")
        ):
            raise NotFound("not found")
        row = await db.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id)
        if (
            row is None
            or row["provider"] != "sandbox"
            or not (principal.is_admin or row["user_id"] == principal.user_id)
        ):
            raise NotFound("payment not found")
        await provider.finish_payment(
            row["provider_payment_id"],
            succeed=outcome == "succeed",
            amount=row["amount"],
            currency=row["currency"],
        )
        return await service.list_payments_by_id(payment_id)


class LedgerAdminController(Controller):
    path = "/api/admin/ledger"
    tags = ["admin"]

    @get("/", security=SECURED, summary="Ledger transactions with their entries (admin)")
    async def list_ledger(
        self,
        principal: NamedDependency[Principal],
        account: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[LedgerTransactionRead]:
        _admin(principal)
        return await queries.list_transactions(account=account, limit=limit, cursor=cursor)

    @get("/balances", security=SECURED, summary="Balance per account and currency (admin)")
    async def ledger_balances(self, principal: NamedDependency[Principal]) -> list[AccountBalance]:
        _admin(principal)
        return await queries.balances()

    @get("/check", security=SECURED, summary="Consistency: unbalanced transactions (should be none) (admin)")
    async def ledger_check(self, principal: NamedDependency[Principal]) -> LedgerCheck:
        _admin(principal)
        return await queries.check()

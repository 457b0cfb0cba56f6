"""Wire shapes of plans, subscriptions, payments and the ledger (API.md "Plans, subscriptions and payments")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from app.core.schema import Schema

PlanId = Literal["basic", "professional", "enterprise"]


class PlanLimits(Schema):
    active_listings: int
    featured_listings: int
    api_requests_per_minute: int
    seats: int


class PlanRead(Schema):
    id: PlanId
    price: str
    currency: str
    interval: str
    commission_rate: str
    limits: PlanLimits


class SubscriptionCreate(Schema):
    plan_id: PlanId


class PaymentRef(Schema):
    id: uuid.UUID
    client_secret: str | None


class SubscriptionRead(Schema):
    id: uuid.UUID
    plan_id: PlanId
    status: Literal["incomplete", "active", "past_due", "canceled"]
    cancel_at_period_end: bool
    current_period_end: datetime | None
    created_at: datetime
    payment: PaymentRef | None = None


class PaymentRead(Schema):
    id: uuid.UUID
    provider: str
    provider_payment_id: str
    amount: str
    currency: str
    status: Literal["pending", "succeeded", "failed", "refunded"]
    client_secret: str | None
    kind: str
    deal_id: uuid.UUID | None
    created_at: datetime


class LedgerEntryRead(Schema):
    account: str
    debit: str
    credit: str


class LedgerReference(Schema):
    deal_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None


class LedgerTransactionRead(Schema):
    id: uuid.UUID
    type: Literal["subscription", "deposit", "commission", "refund", "payout"]
    amount: str
    currency: str
    reference: LedgerReference
    entries: list[LedgerEntryRead]
    created_at: datetime


class AccountBalance(Schema):
    account: str
    currency: str
    debits: str
    credits: str
    balance: str


class LedgerCheck(Schema):
    transactions: int
    unbalanced: list[uuid.UUID]
    total_debits: str
    total_credits: str


class WebhookAck(Schema):
    received: bool
    duplicate: bool = False


def payment_read(row) -> PaymentRead:
    return PaymentRead(
        id=row["id"],
        provider=row["provider"],
        provider_payment_id=row["provider_payment_id"],
        amount=f"{row['amount']:.2f}",
        currency=row["currency"],
        status=row["status"],
        client_secret=row["client_secret"],
        kind=row["kind"],
        deal_id=row["deal"],
        created_at=row["created_at"],
    )


def plan_read(row) -> PlanRead:
    return PlanRead(
        id=row["id"],
        price=f"{row['price']:.2f}",
        currency=row["currency"],
        interval=row["interval"],
        commission_rate=f"{row['commission_rate']:.4f}",
        limits=PlanLimits(
            active_listings=row["active_listings"],
            featured_listings=row["featured_listings"],
            api_requests_per_minute=row["api_requests_per_minute"],
            seats=row["seats"],
        ),
    )


def subscription_read(row, payment=None) -> SubscriptionRead:
    return SubscriptionRead(
        id=row["id"],
        plan_id=row["plan"],
        status=row["status"],
        cancel_at_period_end=row["cancel_at_period_end"],
        current_period_end=row["current_period_end"],
        created_at=row["created_at"],
        payment=None
        if payment is None
        else PaymentRef(id=payment["id"], client_secret=payment["client_secret"]),
    )

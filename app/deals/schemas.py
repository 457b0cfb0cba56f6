"""Wire shapes of offers and deals (API.md "Offers and deals")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from app.core.iso import CURRENCIES
from app.core.schema import Money, Schema, amount

Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Message = Annotated[str, Meta(max_length=2000)]
OfferStatus = Literal["open", "countered", "accepted", "rejected", "withdrawn", "expired", "backup"]
Side = Literal["buyer", "seller"]
MAX_AMOUNT = Decimal("1000000000000")


class OfferConditions(Schema):
    prebuy_inspection: bool = False
    deposit_amount: Money | None = None
    closing_date: date | None = None


class StoredConditions(OfferConditions, forbid_unknown_fields=False):
    """Conditions as read back from the database."""


def _check_amount(value: str, field: str) -> None:
    if not Decimal(0) < amount(value) < MAX_AMOUNT:
        raise ValueError(f"{field} must be a positive amount below 1,000,000,000,000 - at `$.{field}`")


def _check_conditions(conditions: OfferConditions | None, offered: str) -> None:
    if conditions is not None and conditions.deposit_amount is not None:
        if amount(conditions.deposit_amount) > amount(offered):
            raise ValueError("depositAmount cannot exceed the amount - at `$.conditions.depositAmount`")


class OfferCreate(Schema):
    amount: Money
    currency: Currency
    expires_at: datetime | None = None
    conditions: OfferConditions | None = None
    message: Message | None = None

    def __post_init__(self) -> None:
        _check_amount(self.amount, "amount")
        if self.currency not in CURRENCIES:
            raise ValueError("currency must be an ISO 4217 code - at `$.currency`")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expiresAt needs a time zone (RFC 3339) - at `$.expiresAt`")
        _check_conditions(self.conditions, self.amount)


class OfferCounter(Schema):
    amount: Money
    conditions: OfferConditions | None = None
    message: Message | None = None

    def __post_init__(self) -> None:
        _check_amount(self.amount, "amount")
        _check_conditions(self.conditions, self.amount)


class HistoryItem(Schema, forbid_unknown_fields=False):
    by: str
    action: str
    amount: str
    at: datetime
    message: str | None = None


class OfferRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    broker_id: uuid.UUID | None
    amount: str
    currency: str
    status: OfferStatus
    turn: Side
    conditions: StoredConditions
    expires_at: datetime
    history: list[HistoryItem]
    created_at: datetime
    updated_at: datetime


class Deposit(Schema):
    amount: str
    status: Literal["required", "pending", "paid", "refunded"]


class Commission(Schema):
    rate: str
    amount: str | None


class DealRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    offer_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    broker_id: uuid.UUID | None
    price: str
    currency: str
    status: Literal["under_contract", "closed", "fallen_through"]
    deposit: Deposit
    commission: Commission
    created_at: datetime
    closed_at: datetime | None
    reason: str | None = None


class AcceptRead(Schema):
    offer: OfferRead
    deal: DealRead


class FallThrough(Schema):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _json(value):
    return msgspec.json.decode(value) if isinstance(value, (str, bytes)) else value


def offer_read(row) -> OfferRead:
    return OfferRead(
        id=row["id"],
        listing_id=row["listing"],
        buyer_id=row["buyer"],
        seller_id=row["seller"],
        broker_id=row["broker"],
        amount=money(row["amount"]),
        currency=row["currency"],
        status=row["status"],
        turn=row["turn"],
        conditions=msgspec.convert(_json(row["conditions"]), StoredConditions),
        expires_at=row["expires_at"],
        history=msgspec.convert(_json(row["history"]), list[HistoryItem]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def deal_read(row) -> DealRead:
    return DealRead(
        id=row["id"],
        listing_id=row["listing"],
        offer_id=row["offer"],
        buyer_id=row["buyer"],
        seller_id=row["seller"],
        broker_id=row["broker"],
        price=money(row["price"]),
        currency=row["currency"],
        status=row["status"],
        deposit=Deposit(amount=money(row["deposit_amount"]), status=row["deposit_status"]),
        commission=Commission(rate=f"{row['commission_rate']:.4f}", amount=money(row["commission_amount"])),
        created_at=row["created_at"],
        closed_at=row["closed_at"],
        reason=row["reason"],
    )

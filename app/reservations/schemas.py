"""Wire shapes of holds, the waitlist and customer reservations (API.md "Reservations")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from app.core.schema import Schema

HoldStatus = Literal["active", "released", "expired", "cancelled"]
ReservationStatus = Literal["active", "released", "expired"]


class HoldCreate(Schema):
    hours: Annotated[int, Meta(ge=1, le=72)] = 48


class HoldRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    status: HoldStatus
    expires_at: datetime


class WaitlistRead(Schema):
    listing_id: uuid.UUID
    position: Annotated[int, Meta(ge=1)]


class ReservationCreate(Schema):
    buyer_id: uuid.UUID
    listing_id: uuid.UUID
    days: Annotated[int, Meta(ge=1, le=365)] = 30


class ReservationRead(Schema):
    id: uuid.UUID
    buyer_id: uuid.UUID
    broker_id: uuid.UUID
    listing_id: uuid.UUID
    status: ReservationStatus
    reserved_at: datetime
    expires_at: datetime


def hold_read(row) -> HoldRead:
    return HoldRead(
        id=row["id"],
        listing_id=row["listing"],
        buyer_id=row["buyer"],
        status=row["status"],
        expires_at=row["expires_at"],
    )


def reservation_read(row) -> ReservationRead:
    return ReservationRead(
        id=row["id"],
        buyer_id=row["buyer"],
        broker_id=row["broker"],
        listing_id=row["listing"],
        status=row["status"],
        reserved_at=row["reserved_at"],
        expires_at=row["expires_at"],
    )


class WaitlistMe(Schema):
    """The caller's place for a listing: `waiting` at `position` (1 = next) or `offered` (position 0)."""

    listing_id: uuid.UUID
    status: Literal["waiting", "offered"]
    position: Annotated[int, Meta(ge=0)]
    offer_expires_at: datetime | None = None
    hold_id: uuid.UUID | None = None

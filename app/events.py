"""The event catalogue (API.md "Realtime"): every event type as a msgspec struct, one module.

An event's class is its schema; its `tag` is the wire `type`. Emit sites call
`uow.emit(SomeEvent(...), channels)`; the outbox stores the fields as the frame's `data`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class Event(msgspec.Struct, tag_field="type", rename="camel", kw_only=True, frozen=True):
    """Base of every event payload."""


# --- listings -----------------------------------------------------------------------------


class ListingCreated(Event, tag="listing.created"):
    listing_id: uuid.UUID
    listing: dict[str, Any]


class ListingUpdated(Event, tag="listing.updated"):
    listing_id: uuid.UUID
    version: int
    changed: list[str]
    listing: dict[str, Any]


class ListingStatusChanged(Event, tag="listing.status_changed"):
    listing_id: uuid.UUID
    version: int
    previous_status: str
    status: str


class ListingPriceChanged(Event, tag="listing.price_changed"):
    listing_id: uuid.UUID
    version: int
    old_price: str
    new_price: str
    currency: str


# --- reservations -------------------------------------------------------------------------


class HoldPlaced(Event, tag="hold.placed", omit_defaults=True):
    """Public channels get it without `buyerId`; the holder, the seller side and admins with it."""

    hold_id: uuid.UUID
    listing_id: uuid.UUID
    expires_at: datetime
    buyer_id: uuid.UUID | None = None


class HoldReleased(Event, tag="hold.released"):
    hold_id: uuid.UUID
    listing_id: uuid.UUID
    reason: str = "released"


class HoldExpired(Event, tag="hold.expired"):
    hold_id: uuid.UUID
    listing_id: uuid.UUID


class HoldContended(Event, tag="hold.contended"):
    listing_id: uuid.UUID
    expires_at: datetime | None = None


class WaitlistPromoted(Event, tag="waitlist.promoted"):
    listing_id: uuid.UUID
    offer_expires_at: datetime
    hold_id: uuid.UUID | None = None


class ReservationCreated(Event, tag="reservation.created"):
    reservation_id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    broker_id: uuid.UUID
    expires_at: datetime


class ReservationConflict(Event, tag="reservation.conflict"):
    listing_id: uuid.UUID
    buyer_id: uuid.UUID


class ReservationExpired(Event, tag="reservation.expired"):
    reservation_id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID


# --- verification, messaging, notifications -----------------------------------------------


class VerificationProgress(Event, tag="verification.progress"):
    verification_id: uuid.UUID
    check: str
    percent: int


class VerificationStatusChanged(Event, tag="verification.status_changed"):
    verification_id: uuid.UUID
    previous_status: str
    status: str


class MessageCreated(Event, tag="message.created"):
    message_id: uuid.UUID
    thread_id: uuid.UUID
    sender_id: uuid.UUID
    body: str
    listing_id: uuid.UUID | None = None
    client_id: str | None = None
    created_at: datetime | None = None
    attachments: list[dict[str, Any]] = []


class MessageMarkedRead(Event, tag="message.read"):
    """A participant read a thread up to (and including) `message_id`."""

    thread_id: uuid.UUID
    user_id: uuid.UUID
    message_id: uuid.UUID


class ThreadCreated(Event, tag="thread.created"):
    thread_id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    participants: list[dict[str, Any]]


class NotificationCreated(Event, tag="notification.created"):
    notification_id: uuid.UUID
    kind: str
    title: str
    body: str = ""
    link: str | None = None


# --- reports (issue 16): on the owner's `user:` channel only ---------------------------------------


class ReportProgress(Event, tag="report.progress"):
    report_id: uuid.UUID
    kind: str
    progress: int
    rows: int


class ReportReady(Event, tag="report.ready"):
    report_id: uuid.UUID
    kind: str
    rows: int
    download_url: str
    expires_at: datetime


class ReportFailed(Event, tag="report.failed"):
    report_id: uuid.UUID
    kind: str
    error: str


# --- analytics --------------------------------------------------------------------------------


class RiskFlagged(Event, tag="risk.flagged"):
    """A new risk flag on a listing (admins; the listing's owner on their `user:` channel)."""

    listing_id: uuid.UUID
    code: str
    severity: str
    detail: str
    evidence: dict[str, Any]


# --- offers and deals (parties' user: channels and admin only; the public learns the listing status) ---


class OfferEvent(Event):
    """Common fields of every offer step: the offer as it stands after the step, and who took it."""

    offer_id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    status: str
    turn: str
    amount: str
    currency: str
    by: str


class OfferCreated(OfferEvent, tag="offer.created"):
    pass


class OfferCountered(OfferEvent, tag="offer.countered"):
    pass


class OfferAccepted(OfferEvent, tag="offer.accepted"):
    deal_id: uuid.UUID


class OfferRejected(OfferEvent, tag="offer.rejected"):
    pass


class OfferWithdrawn(OfferEvent, tag="offer.withdrawn"):
    pass


class OfferExpired(OfferEvent, tag="offer.expired"):
    pass


class OfferBackup(OfferEvent, tag="offer.backup"):
    pass


class OfferPromoted(OfferEvent, tag="offer.promoted"):
    pass


class DealEvent(Event):
    deal_id: uuid.UUID
    listing_id: uuid.UUID
    offer_id: uuid.UUID
    status: str
    price: str
    currency: str


class DealDepositPaid(DealEvent, tag="deal.deposit_paid"):
    deposit_amount: str


class DealClosed(DealEvent, tag="deal.closed"):
    commission_amount: str


class DealFallenThrough(DealEvent, tag="deal.fallen_through"):
    reason: str


ANY_EVENT = (
    ListingCreated
    | ListingUpdated
    | ListingStatusChanged
    | ListingPriceChanged
    | HoldPlaced
    | HoldReleased
    | HoldExpired
    | HoldContended
    | WaitlistPromoted
    | ReservationCreated
    | ReservationConflict
    | ReservationExpired
    | VerificationProgress
    | VerificationStatusChanged
    | MessageCreated
    | MessageMarkedRead
    | ThreadCreated
    | NotificationCreated
    | ReportProgress
    | ReportReady
    | ReportFailed
    | RiskFlagged
    | OfferCreated
    | OfferCountered
    | OfferAccepted
    | OfferRejected
    | OfferWithdrawn
    | OfferExpired
    | OfferBackup
    | OfferPromoted
    | DealDepositPaid
    | DealClosed
    | DealFallenThrough
)

EVENT_TYPES: dict[str, type[Event]] = {
    msgspec.inspect.type_info(cls).tag: cls  # type: ignore[attr-defined]
    for cls in ANY_EVENT.__args__  # type: ignore[attr-defined]
}

"""Where offer and deal events go: the parties' `user:` channels and admins, never a public channel.

Who may read an offer is who may read its event (one rule, here): its buyer, the listing's seller,
the broker named on it, admins. A buyer never learns of another buyer's offer. The public learns
only the listing's status, through the listing's own events.
"""

from __future__ import annotations

import uuid

from app.core.db import UnitOfWork
from app.events import (
    DealClosed,
    DealDepositPaid,
    DealFallenThrough,
    OfferAccepted,
    OfferBackup,
    OfferCountered,
    OfferCreated,
    OfferExpired,
    OfferPromoted,
    OfferRejected,
    OfferWithdrawn,
)
from realtime import channels

_OFFER_EVENTS = {
    "created": OfferCreated,
    "countered": OfferCountered,
    "accepted": OfferAccepted,
    "rejected": OfferRejected,
    "withdrawn": OfferWithdrawn,
    "expired": OfferExpired,
    "backup": OfferBackup,
    "promoted": OfferPromoted,
}


def parties(row) -> list[str]:
    """The channels of an offer's or a deal's parties and admins."""
    people = [row["buyer"], row["seller"], row["broker"]]
    return list(dict.fromkeys([channels.user(p) for p in people if p is not None] + [channels.admin()]))


def may_read(row, user_id: uuid.UUID, is_admin: bool) -> bool:
    """Whether this user may read the offer or deal `row` (REST and events alike)."""
    return is_admin or user_id in (row["buyer"], row["seller"], row["broker"])


def emit_offer(uow: UnitOfWork, step: str, row, *, by: str, **extra) -> None:
    event = _OFFER_EVENTS[step](
        offer_id=row["id"],
        listing_id=row["listing"],
        buyer_id=row["buyer"],
        seller_id=row["seller"],
        status=row["status"],
        turn=row["turn"],
        amount=f"{row['amount']:.2f}",
        currency=row["currency"],
        by=by,
        **extra,
    )
    uow.emit(event, parties(row))


def emit_deal(uow: UnitOfWork, step: str, row) -> None:
    fields = {
        "deal_id": row["id"],
        "listing_id": row["listing"],
        "offer_id": row["offer"],
        "status": row["status"],
        "price": f"{row['price']:.2f}",
        "currency": row["currency"],
    }
    if step == "deposit_paid":
        event = DealDepositPaid(**fields, deposit_amount=f"{row['deposit_amount']:.2f}")
    elif step == "closed":
        event = DealClosed(**fields, commission_amount=f"{row['commission_amount'] or 0:.2f}")
    else:
        event = DealFallenThrough(**fields, reason=row["reason"] or "")
    uow.emit(event, parties(row))


async def audit_step(uow: UnitOfWork, actor_id: uuid.UUID | None, action: str, row, **data) -> None:
    """Every offer and deal step in the audit trail, in the step's own transaction."""
    from app.core import audit

    kind = "deal" if "price" in row.keys() else "offer"
    amount = row["price"] if kind == "deal" else row["amount"]
    await audit.record(
        uow.conn,
        actor_id=actor_id,
        action=f"{kind}.{action}",
        subject_type=kind,
        subject_id=row["id"],
        data={"listingId": str(row["listing"]), "status": row["status"], "amount": f"{amount:.2f}", **data},
    )

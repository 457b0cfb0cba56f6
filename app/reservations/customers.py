"""Customer reservations: a broker's commission protection on (buyer, listing), unique while active.

`customer_reservations_one_active_uq` decides the winner; a losing broker learns that the buyer is
taken, never by whom.
"""

from __future__ import annotations

import asyncio
import uuid

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, Forbidden, NotFound
from app.events import ReservationConflict, ReservationCreated, ReservationExpired
from app.listings import policy
from app.listings.state import Status
from app.reservations.schemas import ReservationCreate, ReservationRead, reservation_read
from app.reservations.service import RETRIES, RETRYABLE, Busy, Due, ListingNotAvailable
from realtime import channels

# Shown as expired as soon as the period is over, even before the sweep marks the row.
_READ = """SELECT id, buyer, broker, listing, reserved_at, expires_at,
                  CASE WHEN status = 'active' AND expires_at <= now() THEN 'expired' ELSE status END AS status
           FROM customer_reservations"""


class BuyerAlreadyReserved(Conflict):
    code, title = "buyer_already_reserved", "Buyer already reserved for this listing"


class _Overdue(Exception):
    """The active reservation we collided with is past its expiry but not yet marked."""


async def create_reservation(
    principal: Principal, data: ReservationCreate
) -> tuple[ReservationRead, list[Due]]:
    """A broker reserves a buyer for a listing for `days`; 409 `buyer_already_reserved` when taken."""
    principal.require("reservations:create")
    for attempt in range(RETRIES):
        try:
            async with UnitOfWork() as uow:
                outcome = await _create(uow, principal.user_id, data)
        except _Overdue:
            await expire_due_reservations(buyer=data.buyer_id, listing=data.listing_id)
            continue
        except RETRYABLE:
            await asyncio.sleep(0.005 * (attempt + 1))
            continue
        if isinstance(outcome, BuyerAlreadyReserved):
            raise outcome
        return outcome
    raise Busy("the reservation is heavily contended, try again")


async def _create(uow: UnitOfWork, broker: uuid.UUID, data: ReservationCreate):
    conn = uow.conn
    buyer_type = await conn.fetchval("SELECT user_type FROM users WHERE id = $1", data.buyer_id)
    if buyer_type != "buyer":
        raise NotFound("buyer not found")
    status = await conn.fetchval("SELECT status FROM listings WHERE id = $1", data.listing_id)
    if status is None or not policy.is_public(status):
        raise NotFound("listing not found")
    if status not in (Status.ACTIVE, Status.ON_HOLD, Status.UNDER_CONTRACT):
        raise ListingNotAvailable("the listing cannot be reserved now", currentStatus=status)
    row = await conn.fetchrow(
        """INSERT INTO customer_reservations (id, buyer, broker, listing, status, reserved_at, expires_at)
           VALUES (gen_random_uuid(), $1, $2, $3, 'active', now(), now() + make_interval(days => $4))
           ON CONFLICT (buyer, listing) WHERE status = 'active' DO NOTHING
           RETURNING *""",
        data.buyer_id,
        broker,
        data.listing_id,
        data.days,
    )
    if row is None:
        overdue = await conn.fetchval(
            """SELECT expires_at <= now() FROM customer_reservations
               WHERE buyer = $1 AND listing = $2 AND status = 'active'""",
            data.buyer_id,
            data.listing_id,
        )
        if overdue:
            raise _Overdue
        # The losing attempt changed nothing: its transaction commits only the broker's live notice,
        # which names neither the other broker nor the reservation.
        uow.emit(
            ReservationConflict(listing_id=data.listing_id, buyer_id=data.buyer_id), [channels.user(broker)]
        )
        return BuyerAlreadyReserved("this buyer is already reserved for this listing by a broker")
    uow.emit(
        ReservationCreated(
            reservation_id=row["id"],
            listing_id=row["listing"],
            buyer_id=row["buyer"],
            broker_id=row["broker"],
            expires_at=row["expires_at"],
        ),
        [channels.user(broker), channels.user(row["buyer"])],
    )
    return reservation_read(row), [Due("reservation", row["id"], row["expires_at"])]


async def cancel_reservation(principal: Principal, reservation_id: uuid.UUID) -> None:
    """The reserving broker or an admin ends a reservation (ending it twice is not an error)."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            "SELECT broker, status FROM customer_reservations WHERE id = $1 FOR UPDATE", reservation_id
        )
        if row is None:
            raise NotFound("reservation not found")
        if row["broker"] != principal.user_id and not principal.is_admin:
            raise Forbidden("only the reserving broker or an admin may cancel a reservation")
        if row["status"] == "active":
            await uow.conn.execute(
                "UPDATE customer_reservations SET status = 'released', ended_at = now() WHERE id = $1",
                reservation_id,
            )


async def list_reservations(principal: Principal, listing_id: uuid.UUID | None) -> list[ReservationRead]:
    """The caller's own reservations (as buyer or broker; admins see all), newest first."""
    where, args = ["($1::uuid IS NULL OR listing = $1)"], [listing_id]
    if not principal.is_admin:
        where.append("(buyer = $2 OR broker = $2)")
        args.append(principal.user_id)
    rows = await db.fetch(f"{_READ} WHERE {' AND '.join(where)} ORDER BY reserved_at DESC LIMIT 100", *args)
    return [reservation_read(r) for r in rows]


async def expire_due_reservations(
    *, limit: int = 200, reservation: uuid.UUID | None = None, buyer=None, listing=None
) -> int:
    """Expire overdue reservations (all, one, or one buyer+listing); safe to run twice or concurrently."""
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            """UPDATE customer_reservations SET status = 'expired', ended_at = now()
               WHERE id IN (SELECT id FROM customer_reservations
                            WHERE status = 'active' AND expires_at <= now()
                              AND ($2::uuid IS NULL OR id = $2)
                              AND ($3::uuid IS NULL OR buyer = $3) AND ($4::uuid IS NULL OR listing = $4)
                            ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id, buyer, broker, listing""",
            limit,
            reservation,
            buyer,
            listing,
        )
        for row in rows:
            uow.emit(
                ReservationExpired(
                    reservation_id=row["id"], listing_id=row["listing"], buyer_id=row["buyer"]
                ),
                [channels.user(row["broker"]), channels.user(row["buyer"])],
            )
    return len(rows)

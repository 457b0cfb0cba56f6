"""Listing holds and the waitlist: exactly one active hold per listing, enforced by PostgreSQL.

The one-winner guarantee is the partial unique index `listing_holds_one_active_uq`; the code only
turns its verdict (`INSERT ... ON CONFLICT DO NOTHING` returning nothing) into a 409.

Waitlist design: when a hold ends (released, cancelled, expired) and the listing is still on hold,
the first buyer in line is given the hold directly, with a short expiry (the acceptance window,
`Settings.waitlist_offer_s`, default 15 min) and told by `waitlist.promoted`. Letting that hold
expire is lapsing: the expiry path promotes the next buyer. No separate "offer" state is needed, so
the sweep, the per-hold job and the unique index cover offers exactly like ordinary holds.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from app.auth.principal import Principal
from app.core.db import UnitOfWork
from app.core.errors import Conflict, Forbidden, NotFound
from app.events import HoldContended, HoldExpired, HoldPlaced, HoldReleased, WaitlistPromoted
from app.listings import policy
from app.listings.schemas import HoldSummary
from app.listings.service import set_status_by_system
from app.listings.state import Status
from app.reservations.queries import WAITLIST_POSITION_SQL
from app.reservations.schemas import HoldCreate, HoldRead, WaitlistRead, hold_read
from app.settings import get_settings
from realtime import channels

HOLD_LEVEL = 2
RETRIES = 4
# Transient outcomes of concurrent transactions: retried a bounded number of times, then 409.
RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


class ListingOnHold(Conflict):
    code, title = "listing_on_hold", "Listing is on hold"


class ListingNotAvailable(Conflict):
    code, title = "listing_not_available", "Listing is not available"


class AlreadyWaitlisted(Conflict):
    code, title = "already_waitlisted", "Already in line for this listing"


class Busy(Conflict):
    code, title = "contention_retry", "Too much contention, retry"


class Due(msgspec.Struct, frozen=True):
    """A hold or reservation whose expiry job must be scheduled once the transaction committed."""

    kind: str
    id: uuid.UUID
    expires_at: datetime


class _Vacated(Exception):
    """The hold we collided with ended before we could read it: try again."""


class _Overdue(Exception):
    """The hold we collided with is past its expiry but not yet marked expired."""


async def place_hold(
    principal: Principal, listing_id: uuid.UUID, data: HoldCreate
) -> tuple[HoldRead, list[Due]]:
    """A verified buyer holds an active listing; 409 `listing_on_hold` to everyone but the one winner."""
    principal.require("holds:create")
    principal.require_level(HOLD_LEVEL)
    for attempt in range(RETRIES):
        try:
            async with UnitOfWork() as uow:
                outcome = await _place(uow, principal.user_id, listing_id, data.hours)
        except _Overdue:
            # The sweep has not reached the current hold yet: expire it now, then compete again.
            async with UnitOfWork() as uow:
                await _expire_overdue(uow, listing_id)
            continue
        except (*RETRYABLE, _Vacated):
            await asyncio.sleep(0.005 * (attempt + 1))
            continue
        if isinstance(outcome, ListingOnHold):
            raise outcome
        return outcome
    raise Busy("the listing is heavily contended, try again")


async def _place(uow: UnitOfWork, buyer: uuid.UUID, listing_id: uuid.UUID, hours: int):
    conn = uow.conn
    # The committed hold, if any, read without locking: a buyer who arrives while a hold stands loses
    # at once instead of queueing behind the winner's open transaction (an INSERT into the unique
    # index waits for it), which under a rush kept pooled connections idle for the whole queue.
    # The caller's place in line comes along so that a loser costs no further round trip.
    listing = await conn.fetchrow(
        f"""SELECT l.status, l.seller, h.expires_at, h.expires_at <= now() AS overdue,
                  ({WAITLIST_POSITION_SQL}) AS waitlist_position
           FROM listings l LEFT JOIN listing_holds h ON h.listing = l.id AND h.status = 'active'
           WHERE l.id = $1""",
        listing_id,
        buyer,
    )
    if listing is None or not policy.is_public(listing["status"]):
        raise NotFound("listing not found")
    if listing["status"] not in (Status.ACTIVE, Status.ON_HOLD):
        raise ListingNotAvailable("the listing cannot be held now", currentStatus=listing["status"])
    if listing["expires_at"] is not None and not listing["overdue"]:
        return _lost(uow, buyer, listing_id, listing["expires_at"], listing["waitlist_position"])
    row = await conn.fetchrow(
        """INSERT INTO listing_holds (id, listing, buyer, status, source, placed_at, expires_at)
           VALUES (gen_random_uuid(), $1, $2, 'active', 'request', now(), now() + make_interval(hours => $3))
           ON CONFLICT (listing) WHERE status = 'active' DO NOTHING
           RETURNING *""",
        listing_id,
        buyer,
        hours,
    )
    if row is None:
        current = await conn.fetchrow(
            "SELECT expires_at, expires_at <= now() AS overdue FROM listing_holds"
            " WHERE listing = $1 AND status = 'active'",
            listing_id,
        )
        if current is None:
            raise _Vacated
        if current["overdue"]:
            raise _Overdue
        return _lost(uow, buyer, listing_id, current["expires_at"], listing["waitlist_position"])
    summary = HoldSummary(hold_id=row["id"], expires_at=row["expires_at"])
    if (
        await set_status_by_system(uow, listing_id, source=Status.ACTIVE, target=Status.ON_HOLD, hold=summary)
        is None
    ):
        # Rolling back removes the hold: a listing that is not active cannot be held.
        raise ListingNotAvailable("the listing cannot be held now")
    _emit_placed(uow, row, listing["seller"], Status.ON_HOLD)
    return hold_read(row), [Due("hold", row["id"], row["expires_at"])]


def _lost(
    uow: UnitOfWork,
    buyer: uuid.UUID,
    listing_id: uuid.UUID,
    expires_at: datetime,
    waitlist_position: int | None,
) -> ListingOnHold:
    """The losing attempt changed nothing, so its transaction commits just the loser's live notice.

    That notice is not worth a disk flush: the 409 already told the loser, and a database crash in
    the next fraction of a second losing the copy on their `user:` channel costs nothing.
    """
    uow.durable = False
    uow.emit(HoldContended(listing_id=listing_id, expires_at=expires_at), [channels.user(buyer)])
    return ListingOnHold(
        "another buyer holds this listing", expiresAt=expires_at, waitlistPosition=waitlist_position
    )


def _emit_placed(uow: UnitOfWork, row, seller: uuid.UUID, status: str) -> None:
    """Two events: the public one says a hold exists and until when; the holder's side learns who."""
    public, private = policy.hold_targets(row["listing"], seller, status, row["buyer"])
    fields = {"hold_id": row["id"], "listing_id": row["listing"], "expires_at": row["expires_at"]}
    if public:
        uow.emit(HoldPlaced(**fields), public)
    uow.emit(HoldPlaced(**fields, buyer_id=row["buyer"]), private)


def _hold_channels(row, seller: uuid.UUID, status: str) -> list[str]:
    """Channels of an event about hold `row` that names nobody: the public side and the holder's side."""
    public, private = policy.hold_targets(row["listing"], seller, status, row["buyer"])
    return [*public, *private]


async def release_hold(principal: Principal, hold_id: uuid.UUID) -> list[Due]:
    """The holder, the listing's owner or an admin ends a hold; the next in line is offered it."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            """SELECT h.*, l.seller, l.status AS listing_status FROM listing_holds h JOIN listings l ON l.id = h.listing
               WHERE h.id = $1 FOR UPDATE OF h""",
            hold_id,
        )
        if row is None:
            raise NotFound("hold not found")
        is_holder = row["buyer"] == principal.user_id
        if not (is_holder or row["seller"] == principal.user_id or principal.is_admin):
            raise Forbidden("only the holder, the listing's owner or an admin may release a hold")
        if row["status"] != "active":
            return []  # already over: releasing twice is not an error
        if row["expires_at"] <= datetime.now(UTC):
            return await _expire_overdue(uow, row["listing"])
        status = "released" if is_holder else "cancelled"
        await uow.conn.execute(
            "UPDATE listing_holds SET status = $2, ended_at = now() WHERE id = $1", hold_id, status
        )
        uow.emit(
            HoldReleased(hold_id=hold_id, listing_id=row["listing"], reason=status),
            _hold_channels(row, row["seller"], row["listing_status"]),
        )
        return await _after_hold_ended(uow, row["listing"])


_EXPIRE_DUE = """
UPDATE listing_holds SET status = 'expired', ended_at = now()
WHERE id IN (SELECT id FROM listing_holds WHERE status = 'active' AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, listing, buyer
"""


async def expire_due_holds(limit: int = 200) -> tuple[int, list[Due]]:
    """Expire up to `limit` overdue holds with their listings in one transaction; safe to run twice.

    Returns how many expired and the holds handed to waitlisted buyers (whose expiry must be scheduled).
    """
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(_EXPIRE_DUE, limit)
        return len(rows), await _ended(uow, rows)


async def expire_hold(hold_id: uuid.UUID) -> list[Due]:
    """The per-hold job: expire this one hold if it is due and still active (otherwise nothing)."""
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            """UPDATE listing_holds SET status = 'expired', ended_at = now()
               WHERE id = $1 AND status = 'active' AND expires_at <= now() RETURNING id, listing, buyer""",
            hold_id,
        )
        return await _ended(uow, rows)


async def _expire_overdue(uow: UnitOfWork, listing_id: uuid.UUID) -> list[Due]:
    """Expire this listing's overdue hold now (the sweep may lag behind)."""
    rows = await uow.conn.fetch(
        """UPDATE listing_holds SET status = 'expired', ended_at = now()
           WHERE listing = $1 AND status = 'active' AND expires_at <= now() RETURNING id, listing, buyer""",
        listing_id,
    )
    return await _ended(uow, rows)


async def _ended(uow: UnitOfWork, rows) -> list[Due]:
    due: list[Due] = []
    for row in rows:
        listing = await uow.conn.fetchrow("SELECT seller, status FROM listings WHERE id = $1", row["listing"])
        uow.emit(
            HoldExpired(hold_id=row["id"], listing_id=row["listing"]),
            _hold_channels(row, listing["seller"], listing["status"]),
        )
        due += await _after_hold_ended(uow, row["listing"])
    return due


async def _after_hold_ended(uow: UnitOfWork, listing_id: uuid.UUID) -> list[Due]:
    """Offer the listing to the first buyer in line, or put it back on the market."""
    conn = uow.conn
    listing = await conn.fetchrow("SELECT status, seller FROM listings WHERE id = $1 FOR UPDATE", listing_id)
    if listing is None or listing["status"] != Status.ON_HOLD:
        return []  # withdrawn or sold while held: nothing to hand on
    # SKIP LOCKED: a buyer leaving the line right now is passed over rather than waited for.
    buyer = await conn.fetchval(
        """UPDATE listing_waitlist SET status = 'promoted', ended_at = now()
           WHERE id = (SELECT id FROM listing_waitlist WHERE listing = $1 AND status = 'waiting'
                       ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING buyer""",
        listing_id,
    )
    if buyer is None:
        await set_status_by_system(uow, listing_id, source=Status.ON_HOLD, target=Status.ACTIVE)
        return []
    window = timedelta(seconds=get_settings().waitlist_offer_s)
    row = await conn.fetchrow(
        """INSERT INTO listing_holds (id, listing, buyer, status, source, placed_at, expires_at)
           VALUES (gen_random_uuid(), $1, $2, 'active', 'waitlist', now(), now() + $3::interval)
           RETURNING *""",
        listing_id,
        buyer,
        window,
    )
    _emit_placed(uow, row, listing["seller"], listing["status"])
    uow.emit(
        WaitlistPromoted(listing_id=listing_id, offer_expires_at=row["expires_at"], hold_id=row["id"]),
        [channels.user(buyer)],
    )
    return [Due("hold", row["id"], row["expires_at"])]


async def join_waitlist(principal: Principal, listing_id: uuid.UUID) -> WaitlistRead:
    """A verified buyer gets in line; positions are exact because joins for one listing take turns."""
    principal.require("waitlist:join")
    principal.require_level(HOLD_LEVEL)
    async with UnitOfWork() as uow:
        conn = uow.conn
        status = await conn.fetchval("SELECT status FROM listings WHERE id = $1", listing_id)
        if status is None or not policy.is_public(status):
            raise NotFound("listing not found")
        if status not in (Status.ACTIVE, Status.ON_HOLD):
            raise ListingNotAvailable("the listing cannot be waited for", currentStatus=status)
        # Serial ids are handed out in lock order, so id order is arrival order and the count is exact.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('waitlist:' || $1::uuid::text, 0))", listing_id
        )
        entry = await conn.fetchval(
            """INSERT INTO listing_waitlist (listing, buyer, status, joined_at) VALUES ($1, $2, 'waiting', now())
               ON CONFLICT (listing, buyer) WHERE status = 'waiting' DO NOTHING RETURNING id""",
            listing_id,
            principal.user_id,
        )
        if entry is None:
            raise AlreadyWaitlisted("you are already in line for this listing")
        position = await conn.fetchval(
            "SELECT count(*) FROM listing_waitlist WHERE listing = $1 AND status = 'waiting' AND id <= $2",
            listing_id,
            entry,
        )
    return WaitlistRead(listing_id=listing_id, position=position)


async def leave_waitlist(principal: Principal, listing_id: uuid.UUID) -> None:
    """A buyer steps out of line; 404 when they were not in it."""
    async with UnitOfWork() as uow:
        left = await uow.conn.fetchval(
            """UPDATE listing_waitlist SET status = 'left', ended_at = now()
               WHERE listing = $1 AND buyer = $2 AND status = 'waiting' RETURNING id""",
            listing_id,
            principal.user_id,
        )
    if left is None:
        raise NotFound("you are not in line for this listing")


async def end_hold_for_contract(uow: UnitOfWork, listing_id: uuid.UUID) -> None:
    """The listing went under contract (app/deals): its active hold, if any, ends as released."""
    rows = await uow.conn.fetch(
        """UPDATE listing_holds SET status = 'released', ended_at = now()
           WHERE listing = $1 AND status = 'active' RETURNING id, listing, buyer""",
        listing_id,
    )
    for row in rows:
        seller = await uow.conn.fetchval("SELECT seller FROM listings WHERE id = $1", listing_id)
        uow.emit(
            HoldReleased(hold_id=row["id"], listing_id=listing_id, reason="under_contract"),
            _hold_channels(row, seller, Status.UNDER_CONTRACT),
        )

"""Offers: make, counter, accept, reject, withdraw, expire — each step one unit of work with its events.

The one-contract guarantee is the partial unique index `deals_one_live_uq` (a listing has at most one
deal that has not fallen through); the code turns its verdict (`ON CONFLICT DO NOTHING` returning
nothing) into 409 `listing_under_contract`. Accepts on one listing also queue on the listing's row
lock first, so an accept never waits on another's unique-index insert while holding offer locks
that one wants (that order deadlocked).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import msgspec

from app.auth.principal import Principal
from app.core.db import UnitOfWork
from app.core.errors import NotFound, ValidationFailed
from app.deals import state
from app.deals.errors import Busy, CurrencyMismatch, ListingHeldByAnother, ListingNotAvailable
from app.deals.events import audit_step, emit_offer
from app.deals.schemas import AcceptRead, OfferCounter, OfferCreate, OfferRead, deal_read, offer_read
from app.listings import policy
from app.listings.service import set_status_by_system
from app.listings.state import Status
from app.reservations.service import end_hold_for_contract

OFFER_LEVEL = 2
DEFAULT_EXPIRY = timedelta(days=7)
MAX_EXPIRY = timedelta(days=90)
DEFAULT_DEPOSIT_RATE = Decimal("0.10")
RETRIES = 4
RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


class Due(msgspec.Struct, frozen=True):
    """An offer whose expiry job must be scheduled once the transaction committed."""

    id: uuid.UUID
    expires_at: datetime


def _step(by: str, action: str, amount: str, message: str | None = None) -> str:
    item = {"by": by, "action": action, "amount": amount, "at": datetime.now(UTC).isoformat()}
    if message:
        item["message"] = message
    return msgspec.json.encode([item]).decode()


def _conditions(data) -> str:
    return msgspec.json.encode(data.conditions or {}).decode()


def deposit_for(amount: Decimal, agreed: str | None) -> Decimal:
    """The deposit an accepted offer asks for: the one its conditions name, else 10 % of the amount."""
    return Decimal(agreed) if agreed else (amount * DEFAULT_DEPOSIT_RATE).quantize(Decimal("0.01"))


def side_of(principal: Principal, offer) -> str | None:
    """'buyer', 'seller' (the lister or the broker named on the offer) or None for anyone else."""
    if principal.user_id == offer["buyer"]:
        return "buyer"
    if principal.user_id in (offer["seller"], offer["broker"]):
        return "seller"
    return None


async def create_offer(
    principal: Principal, listing_id: uuid.UUID, data: OfferCreate
) -> tuple[OfferRead, Due]:
    """A verified buyer offers on an active listing; the seller side has the next move."""
    principal.require("offers:create")
    principal.require_level(OFFER_LEVEL)
    now = datetime.now(UTC)
    expires_at = data.expires_at or now + DEFAULT_EXPIRY
    if not now < expires_at <= now + MAX_EXPIRY:
        raise ValidationFailed(
            "expiresAt must be in the future and at most 90 days away",
            errors=[{"field": "expiresAt", "message": "out of range"}],
        )
    async with UnitOfWork() as uow:
        listing = await uow.conn.fetchrow(
            """SELECT l.status, l.seller, l.currency, u.user_type FROM listings l JOIN users u ON u.id = l.seller
               WHERE l.id = $1""",
            listing_id,
        )
        if listing is None or not policy.is_public(listing["status"]):
            raise NotFound("listing not found")
        if listing["seller"] == principal.user_id:
            raise ListingNotAvailable("you cannot make an offer on your own listing")
        if listing["status"] not in (Status.ACTIVE, Status.ON_HOLD):
            raise ListingNotAvailable("the listing takes no offers now", currentStatus=listing["status"])
        if data.currency != listing["currency"]:
            raise CurrencyMismatch(
                f"the listing is priced in {listing['currency']}",
                errors=[{"field": "currency", "message": f"must be {listing['currency']}"}],
            )
        broker = listing["seller"] if listing["user_type"] == "broker" else None
        row = await uow.conn.fetchrow(
            """INSERT INTO offers (listing, buyer, seller, broker, amount, currency, status, turn, conditions,
                                   history, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'open', 'seller', $7::jsonb, $8::jsonb, $9) RETURNING *""",
            listing_id,
            principal.user_id,
            listing["seller"],
            broker,
            Decimal(data.amount),
            data.currency,
            _conditions(data),
            _step("buyer", "offered", data.amount, data.message),
            expires_at,
        )
        emit_offer(uow, "created", row, by="buyer")
        await audit_step(uow, principal.user_id, "created", row)
    return offer_read(row), Due(row["id"], row["expires_at"])


async def _locked_offer(uow: UnitOfWork, principal: Principal, offer_id: uuid.UUID):
    row = await uow.conn.fetchrow("SELECT * FROM offers WHERE id = $1 FOR UPDATE", offer_id)
    if row is None:
        raise NotFound("offer not found")
    side = side_of(principal, row)
    if side is None:
        raise NotFound("offer not found")
    return row, side


async def counter_offer(principal: Principal, offer_id: uuid.UUID, data: OfferCounter) -> OfferRead:
    """The party whose turn it is proposes new terms; the turn passes to the other side."""
    async with UnitOfWork() as uow:
        row, side = await _locked_offer(uow, principal, offer_id)
        state.check_counter(row["status"], row["turn"], side)
        if row["expires_at"] <= datetime.now(UTC):
            raise state.OfferClosed("the offer has expired", offerStatus="expired")
        conditions = row["conditions"] if data.conditions is None else _conditions(data)
        row = await uow.conn.fetchrow(
            """UPDATE offers SET amount = $2, conditions = $3::jsonb, status = 'countered', turn = $4,
                      history = history || $5::jsonb, updated_at = now()
               WHERE id = $1 RETURNING *""",
            offer_id,
            Decimal(data.amount),
            conditions,
            state.other(side),
            _step(side, "countered", data.amount, data.message),
        )
        emit_offer(uow, "countered", row, by=side)
        await audit_step(uow, principal.user_id, "countered", row, side=side)
    return offer_read(row)


async def accept_offer(principal: Principal, offer_id: uuid.UUID) -> AcceptRead:
    """Accept the terms on the table: a deal, the listing under contract, other offers backups — or 409."""
    for attempt in range(RETRIES):
        try:
            async with UnitOfWork() as uow:
                return await _accept(uow, principal, offer_id)
        except RETRYABLE:
            await asyncio.sleep(0.005 * (attempt + 1))
    raise Busy("the listing is heavily contended, try again")


async def _accept(uow: UnitOfWork, principal: Principal, offer_id: uuid.UUID) -> AcceptRead:
    conn = uow.conn
    peek = await conn.fetchrow(
        """SELECT o.listing, o.buyer, o.seller, o.broker,
                  (SELECT d.id FROM deals d WHERE d.listing = o.listing AND d.status <> 'fallen_through') AS deal
           FROM offers o WHERE o.id = $1""",
        offer_id,
    )
    if peek is None or side_of(principal, peek) is None:
        raise NotFound("offer not found")
    listing_id = peek["listing"]
    if peek["deal"] is not None:
        # Read without locking: once a deal is committed, later accepts lose at once instead of queueing
        # on the listing's row lock behind each other (the unique index stays the guarantee).
        raise state.ListingUnderContract(
            "another offer on this listing was accepted", dealId=str(peek["deal"])
        )
    # Accepts on one listing take turns here (see the module docstring).
    listing = await conn.fetchrow(
        "SELECT status, seller, price FROM listings WHERE id = $1 FOR UPDATE", listing_id
    )
    row, side = await _locked_offer(uow, principal, offer_id)
    live_deal = await conn.fetchval(
        "SELECT id FROM deals WHERE listing = $1 AND status <> 'fallen_through'", listing_id
    )
    if live_deal is not None:
        raise state.ListingUnderContract("another offer on this listing was accepted", dealId=str(live_deal))
    state.check_accept(row["status"], row["turn"], side)
    if row["expires_at"] <= datetime.now(UTC):
        raise state.OfferClosed("the offer has expired", offerStatus="expired")
    if listing["status"] not in (Status.ACTIVE, Status.ON_HOLD):
        raise ListingNotAvailable("the listing cannot go under contract now", currentStatus=listing["status"])
    holder = await conn.fetchval(
        "SELECT buyer FROM listing_holds WHERE listing = $1 AND status = 'active' AND expires_at > now()",
        listing_id,
    )
    if holder is not None and holder != row["buyer"]:
        raise ListingHeldByAnother("another buyer holds this listing; accept once the hold ends")
    conditions = (
        msgspec.json.decode(row["conditions"]) if isinstance(row["conditions"], str) else row["conditions"]
    )
    deposit_amount = deposit_for(row["amount"], conditions.get("depositAmount"))
    from app.payments.plans import commission_rate  # the seller's plan decides the commission

    deal = await conn.fetchrow(
        """INSERT INTO deals (listing, offer, buyer, seller, broker, price, currency, deposit_amount,
                              deposit_status, commission_rate)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::numeric = 0 THEN 'paid' ELSE 'required' END, $9)
           ON CONFLICT (listing) WHERE status <> 'fallen_through' DO NOTHING RETURNING *""",
        listing_id,
        offer_id,
        row["buyer"],
        row["seller"],
        row["broker"],
        row["amount"],
        row["currency"],
        deposit_amount,
        await commission_rate(conn, row["seller"]),
    )
    if deal is None:
        raise state.ListingUnderContract("another offer on this listing was accepted")
    row = await conn.fetchrow(
        """UPDATE offers SET status = 'accepted', history = history || $2::jsonb, updated_at = now()
           WHERE id = $1 RETURNING *""",
        offer_id,
        _step(side, "accepted", f"{row['amount']:.2f}"),
    )
    backups = await conn.fetch(
        """UPDATE offers SET status = 'backup', history = history || $3::jsonb, updated_at = now()
           WHERE listing = $1 AND id <> $2 AND status IN ('open', 'countered') RETURNING *""",
        listing_id,
        offer_id,
        _step("system", "backup", "0.00"),
    )
    if listing["status"] == Status.ON_HOLD:
        await end_hold_for_contract(uow, listing_id)
    if (
        await set_status_by_system(uow, listing_id, source=listing["status"], target=Status.UNDER_CONTRACT)
        is None
    ):
        raise ListingNotAvailable("the listing cannot go under contract now")
    emit_offer(uow, "accepted", row, by=side, deal_id=deal["id"])
    await audit_step(uow, principal.user_id, "accepted", row, side=side, dealId=str(deal["id"]))
    for backup in backups:
        emit_offer(uow, "backup", backup, by="system")
    return AcceptRead(offer=offer_read(row), deal=deal_read(deal))


async def reject_offer(principal: Principal, offer_id: uuid.UUID) -> OfferRead:
    """The seller side turns an offer down (also a backup)."""
    return await _end(principal, offer_id, "rejected", state.check_reject)


async def withdraw_offer(principal: Principal, offer_id: uuid.UUID) -> OfferRead:
    """The buyer takes their offer back (also a backup)."""
    return await _end(principal, offer_id, "withdrawn", state.check_withdraw)


async def _end(principal: Principal, offer_id: uuid.UUID, status: str, check) -> OfferRead:
    async with UnitOfWork() as uow:
        row, side = await _locked_offer(uow, principal, offer_id)
        check(row["status"], side)
        row = await uow.conn.fetchrow(
            """UPDATE offers SET status = $2, history = history || $3::jsonb, updated_at = now()
               WHERE id = $1 RETURNING *""",
            offer_id,
            status,
            _step(side, status, f"{row['amount']:.2f}"),
        )
        emit_offer(uow, status, row, by=side)
        await audit_step(uow, principal.user_id, status, row, side=side)
        await promote_backup(uow, row["listing"], only_if_idle=True)
    return offer_read(row)


async def promote_backup(uow: UnitOfWork, listing_id: uuid.UUID, *, only_if_idle: bool) -> None:
    """Reopen the first backup offer (oldest first) when the listing has no deal and, if `only_if_idle`,
    no offer under negotiation: a fall-through, or the reopened offer itself ending."""
    conn = uow.conn
    busy = await conn.fetchval(
        f"""SELECT EXISTS (SELECT 1 FROM deals WHERE listing = $1 AND status <> 'fallen_through')
                   {
            "OR EXISTS (SELECT 1 FROM offers WHERE listing = $1 AND status IN ('open', 'countered'))"
            if only_if_idle
            else ""
        }""",
        listing_id,
    )
    if busy:
        return
    row = await conn.fetchrow(
        """UPDATE offers SET status = 'open', history = history || $2::jsonb, updated_at = now()
           WHERE id = (SELECT id FROM offers WHERE listing = $1 AND status = 'backup' AND expires_at > now()
                       ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        listing_id,
        _step("system", "promoted", "0.00"),
    )
    if row is not None:
        emit_offer(uow, "promoted", row, by="system")


_EXPIRE_DUE = """
UPDATE offers SET status = 'expired', updated_at = now(),
       history = history || jsonb_build_array(jsonb_build_object(
           'by', 'system', 'action', 'expired', 'amount', amount::text, 'at', now()))
WHERE id IN (SELECT id FROM offers WHERE status IN ('open', 'countered', 'backup') AND expires_at <= now()
             {only} ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING *
"""


async def expire_due_offers(limit: int = 200, *, offer_id: uuid.UUID | None = None) -> int:
    """Expire up to `limit` overdue offers (or just `offer_id`) with their events in one transaction.

    All or nothing: a worker killed midway leaves every offer as it was, and the next run redoes it.
    """
    async with UnitOfWork() as uow:
        if offer_id is None:
            rows = await uow.conn.fetch(_EXPIRE_DUE.format(only=""), limit)
        else:
            rows = await uow.conn.fetch(_EXPIRE_DUE.format(only="AND id = $2"), limit, offer_id)
        for row in rows:
            emit_offer(uow, "expired", row, by="system")
            await audit_step(uow, None, "expired", row)
        for listing_id in {row["listing"] for row in rows}:
            await promote_backup(uow, listing_id, only_if_idle=True)
        return len(rows)

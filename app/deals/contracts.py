"""Deals after the accept: read, close (listing sold, commission booked), fall through (backup reopens)."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from app.auth.principal import Principal
from app.core.db import UnitOfWork
from app.core.errors import Forbidden, NotFound
from app.core.pagination import Page, keyset_page
from app.deals import events
from app.deals.errors import DealClosed, DepositNotPaid
from app.deals.schemas import DealRead, deal_read
from app.deals.service import promote_backup
from app.listings.service import set_status_by_system
from app.listings.state import Status
from app.payments import ledger

CENT = Decimal("0.01")


def commission_of(price: Decimal, rate: Decimal) -> Decimal:
    """The commission on a price at a plan's rate, in cents (what closing a deal books)."""
    return (price * rate).quantize(CENT, rounding=ROUND_HALF_UP)


async def get_deal(principal: Principal, deal_id: uuid.UUID) -> DealRead:
    """A deal for its parties and admins; 404 for anyone else."""
    from app.core import db

    row = await db.fetchrow("SELECT * FROM deals WHERE id = $1", deal_id)
    if row is None or not events.may_read(row, principal.user_id, principal.is_admin):
        raise NotFound("deal not found")
    return deal_read(row)


async def list_deals(
    principal: Principal, *, status: str | None, limit: int, cursor: str | None
) -> Page[DealRead]:
    """The caller's deals (as buyer, seller or broker), newest first."""
    filters, args = ["$1 IN (buyer, seller, coalesce(broker, buyer))"], [principal.user_id]
    if status is not None:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "deals", filters=filters, args=args, key="created_at", limit=limit, cursor=cursor, read=deal_read
    )


async def _locked_deal(uow: UnitOfWork, principal: Principal | None, deal_id: uuid.UUID):
    listing_id = await uow.conn.fetchval("SELECT listing FROM deals WHERE id = $1", deal_id)
    if listing_id is None:
        raise NotFound("deal not found")
    # Listing first, then the deal: the same order as an accept, so the two never deadlock.
    await uow.conn.execute("SELECT 1 FROM listings WHERE id = $1 FOR UPDATE", listing_id)
    row = await uow.conn.fetchrow("SELECT * FROM deals WHERE id = $1 FOR UPDATE", deal_id)
    if principal is not None and not events.may_read(row, principal.user_id, principal.is_admin):
        raise NotFound("deal not found")
    return row


async def close_deal(principal: Principal, deal_id: uuid.UUID) -> DealRead:
    """The seller side or an admin closes a deal whose deposit is paid: listing sold, commission booked."""
    async with UnitOfWork() as uow:
        row = await _locked_deal(uow, principal, deal_id)
        if not (principal.is_admin or principal.user_id in (row["seller"], row["broker"])):
            raise Forbidden("only the seller side or an admin may close a deal")
        if row["status"] != "under_contract":
            raise DealClosed(f"the deal is {row['status']}", dealStatus=row["status"])
        if row["deposit_status"] != "paid":
            raise DepositNotPaid(
                "the buyer's deposit must be paid before closing", deposit=row["deposit_status"]
            )
        commission = commission_of(row["price"], row["commission_rate"])
        row = await uow.conn.fetchrow(
            """UPDATE deals SET status = 'closed', closed_at = now(), commission_amount = $2
               WHERE id = $1 RETURNING *""",
            deal_id,
            commission,
        )
        await set_status_by_system(uow, row["listing"], source=Status.UNDER_CONTRACT, target=Status.SOLD)
        # Backups have nothing left to wait for.
        await uow.conn.execute(
            """UPDATE offers SET status = 'rejected', updated_at = now(),
                      history = history || jsonb_build_array(jsonb_build_object(
                          'by', 'system', 'action', 'sold', 'amount', amount::text, 'at', now()))
               WHERE listing = $1 AND status IN ('backup', 'open', 'countered')""",
            row["listing"],
        )
        await ledger.book_close(uow, row)
        events.emit_deal(uow, "closed", row)
        await events.audit_step(uow, principal.user_id, "closed", row, commission=f"{commission:.2f}")
    return deal_read(row)


async def fall_through(
    principal: Principal, deal_id: uuid.UUID, reason: str
) -> tuple[DealRead, uuid.UUID | None]:
    """A party or an admin ends a deal under contract: listing active, first backup reopened.

    Returns the deal and the paid deposit payment to refund once this commits (None if none).
    """
    async with UnitOfWork() as uow:
        row = await _locked_deal(uow, principal, deal_id)
        if row["status"] != "under_contract":
            raise DealClosed(f"the deal is {row['status']}", dealStatus=row["status"])
        row = await uow.conn.fetchrow(
            "UPDATE deals SET status = 'fallen_through', reason = $2, closed_at = now() WHERE id = $1 RETURNING *",
            deal_id,
            reason,
        )
        await set_status_by_system(uow, row["listing"], source=Status.UNDER_CONTRACT, target=Status.ACTIVE)
        events.emit_deal(uow, "fallen_through", row)
        await events.audit_step(uow, principal.user_id, "fallen_through", row, reason=reason[:200])
        await promote_backup(uow, row["listing"], only_if_idle=False)
        refund = await uow.conn.fetchval(
            """SELECT id FROM payments WHERE deal = $1 AND kind = 'deposit' AND status = 'succeeded'
               ORDER BY created_at DESC LIMIT 1""",
            deal_id,
        )
    return deal_read(row), refund

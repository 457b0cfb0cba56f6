"""Reads of offers: a listing's offers (seller side all, a buyer their own), the caller's offers."""

from __future__ import annotations

import uuid
from typing import Literal

from app.auth.principal import Principal
from app.core import db
from app.core.errors import NotFound
from app.core.pagination import Page, keyset_page
from app.deals import events
from app.deals.schemas import OfferRead, OfferStatus, offer_read
from app.listings import policy


async def list_listing_offers(
    principal: Principal, listing_id: uuid.UUID, *, status: OfferStatus | None, limit: int, cursor: str | None
) -> Page[OfferRead]:
    """The listing's seller, a broker named on its offers and admins see all; a buyer sees their own."""
    listing = await db.fetchrow("SELECT status, seller FROM listings WHERE id = $1", listing_id)
    if listing is None or not policy.may_read_row(listing, principal):
        raise NotFound("listing not found")
    filters, args = ["listing = $1"], [listing_id]
    if not principal.is_admin and principal.user_id != listing["seller"]:
        args.append(principal.user_id)
        filters.append(f"${len(args)} IN (buyer, coalesce(broker, buyer))")
    if status is not None:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "offers", filters=filters, args=args, key="created_at", limit=limit, cursor=cursor, read=offer_read
    )


async def list_my_offers(
    principal: Principal,
    *,
    role: Literal["buyer", "seller"] | None,
    status: OfferStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[OfferRead]:
    """The caller's offers: made (buyer), received (seller side), or both."""
    args: list = [principal.user_id]
    if role == "buyer":
        filters = ["buyer = $1"]
    elif role == "seller":
        filters = ["$1 IN (seller, coalesce(broker, seller))"]
    else:
        filters = ["$1 IN (buyer, seller, coalesce(broker, buyer))"]
    if status is not None:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "offers", filters=filters, args=args, key="created_at", limit=limit, cursor=cursor, read=offer_read
    )


async def get_offer(principal: Principal, offer_id: uuid.UUID) -> OfferRead:
    row = await db.fetchrow("SELECT * FROM offers WHERE id = $1", offer_id)
    if row is None or not events.may_read(row, principal.user_id, principal.is_admin):
        raise NotFound("offer not found")
    return offer_read(row)

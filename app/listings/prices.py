"""A listing's price over time, from `listing_price_history` (written with every price change)."""

from __future__ import annotations

import uuid

from app.auth.principal import Principal
from app.core import db
from app.core.errors import NotFound
from app.listings import policy
from app.listings.schemas import PriceHistory, PricePoint, money

# Enough for a chart; a listing repriced more often than this shows its most recent changes.
MAX_POINTS = 500


async def price_history(listing_id: uuid.UUID, viewer: Principal | None) -> PriceHistory:
    """Prices oldest first (the first is the opening price) for anyone who may see the listing."""
    listing = await db.fetchrow("SELECT id, seller, status FROM listings WHERE id = $1", listing_id)
    if listing is None or not policy.may_read_row(listing, viewer):
        raise NotFound("listing not found")
    rows = await db.fetch(
        """SELECT new_price, currency, changed_at FROM (
               SELECT new_price, currency, changed_at, id FROM listing_price_history WHERE listing = $1
               ORDER BY changed_at DESC, id DESC LIMIT $2) recent
           ORDER BY changed_at, id""",
        listing_id,
        MAX_POINTS,
    )
    return PriceHistory(
        items=[
            PricePoint(price=money(r["new_price"]), currency=r["currency"], changed_at=r["changed_at"])
            for r in rows
        ]
    )

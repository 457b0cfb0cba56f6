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
    return PriceHistory(items=(await price_histories([listing_id]))[listing_id])


async def price_histories(listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PricePoint]]:
    """The price histories of many listings in one query (the caller checked they may be read):
    each oldest first, its most recent MAX_POINTS."""
    histories: dict[uuid.UUID, list[PricePoint]] = {listing_id: [] for listing_id in listing_ids}
    if not listing_ids:
        return histories
    rows = await db.fetch(
        """SELECT listing, new_price, currency, changed_at FROM (
               SELECT listing, new_price, currency, changed_at, id,
                      row_number() OVER (PARTITION BY listing ORDER BY changed_at DESC, id DESC) AS recency
               FROM listing_price_history WHERE listing = ANY($1::uuid[])) recent
           WHERE recency <= $2
           ORDER BY listing, changed_at, id""",
        list(histories),
        MAX_POINTS,
    )
    for r in rows:
        histories[r["listing"]].append(
            PricePoint(price=money(r["new_price"]), currency=r["currency"], changed_at=r["changed_at"])
        )
    return histories

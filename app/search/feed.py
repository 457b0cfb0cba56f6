"""Listing events read from the outbox in order, for consumers that keep their own position."""

from __future__ import annotations

import uuid
from typing import Any

from app.core import consumers
from realtime import channels

LISTING_EVENTS = ("listing.created", "listing.updated", "listing.status_changed", "listing.price_changed")


async def read_position(conn, name: str) -> int:
    """The consumer's position, locked until the transaction ends so two workers never overlap."""
    return await consumers.read_position(conn, "search_cursors", name)


async def save_position(conn, name: str, position: int) -> None:
    await consumers.save_position(conn, "search_cursors", name, position)


async def changed_listings(conn, after: int, *, limit: int = 500) -> tuple[list[Any], int]:
    """Listing rows changed by events after `after`, and the position read up to.

    Only positions at or below the committed bound are read: a transaction that took a lower
    position may still be committing, and skipping past it would lose its event.
    """
    bound = await consumers.committed_bound(conn, after)
    events = await conn.fetch(
        """SELECT position, payload ->> 'listingId' AS listing_id FROM outbox_events
           WHERE channel = ANY($1::text[]) AND position > $2 AND position <= $3 AND event_type = ANY($4::text[])
           ORDER BY position LIMIT $5""",
        # Hidden listings' events go to the seller side and `admin` only (app/listings/policy.py):
        # `admin` sees every listing change, `listings` every public one.
        [channels.listings_feed(), channels.admin()],
        after,
        bound,
        list(LISTING_EVENTS),
        limit,
    )
    read_to = events[-1]["position"] if len(events) == limit else max(bound, after)
    if not events:
        return [], read_to
    ids = list(dict.fromkeys(uuid.UUID(e["listing_id"]) for e in events if e["listing_id"]))
    # The current row, not the event's snapshot: whatever order events arrive in, the newest wins.
    rows = await conn.fetch("SELECT * FROM listings WHERE id = ANY($1::uuid[])", ids)
    return list(rows), read_to

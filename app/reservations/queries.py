"""Read-only views for the buyer: my holds, my place in a listing's line."""

from __future__ import annotations

import uuid

from app.auth.principal import Principal
from app.core import db
from app.core.errors import NotFound
from app.core.pagination import Page, keyset_page
from app.reservations.schemas import HoldRead, HoldStatus, WaitlistMe, WaitlistRead, hold_read

# Entry ids are handed out in arrival order (see service.join_waitlist), so counting ids up to mine is my place.
# $1 = listing, $2 = buyer; also a scalar subquery of the hold attempt's first read.
WAITLIST_POSITION_SQL = """SELECT (SELECT count(*) FROM listing_waitlist w WHERE w.listing = me.listing
                       AND w.status = 'waiting' AND w.id <= me.id) AS position
               FROM listing_waitlist me WHERE me.listing = $1 AND me.buyer = $2 AND me.status = 'waiting'"""


class NotWaitlisted(NotFound):
    code, title = "not_waitlisted", "Not in line for this listing"


async def list_my_holds(
    principal: Principal, *, status: HoldStatus | None, limit: int, cursor: str | None
) -> Page[HoldRead]:
    """The caller's holds, newest first, keyset-paginated."""
    filters, args = ["buyer = $1"], [principal.user_id]
    if status is not None:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "listing_holds",
        filters=filters,
        args=args,
        key="placed_at",
        limit=limit,
        cursor=cursor,
        read=hold_read,
    )


async def my_waitlist_place(principal: Principal, listing_id: uuid.UUID) -> WaitlistMe:
    """Where the caller stands for a listing: waiting at #n, or offered the hold until a deadline."""
    waiting = await db.fetchrow(WAITLIST_POSITION_SQL, listing_id, principal.user_id)
    if waiting is not None:
        return WaitlistMe(listing_id=listing_id, status="waiting", position=waiting["position"])
    # A promoted buyer's offer is the hold the waitlist gave them; it is theirs until it expires.
    offer = await db.fetchrow(
        """SELECT id, expires_at FROM listing_holds WHERE listing = $1 AND buyer = $2 AND status = 'active'
           AND source = 'waitlist' AND expires_at > now()""",
        listing_id,
        principal.user_id,
    )
    if offer is not None:
        return WaitlistMe(
            listing_id=listing_id,
            status="offered",
            position=0,
            offer_expires_at=offer["expires_at"],
            hold_id=offer["id"],
        )
    raise NotWaitlisted("you are not in line for this listing")


async def list_my_waitlists(principal: Principal) -> list[WaitlistRead]:
    """Every line the caller waits in, with their place (1 = next), most recently joined first."""
    rows = await db.fetch(
        """SELECT me.listing, (SELECT count(*) FROM listing_waitlist w WHERE w.listing = me.listing
                  AND w.status = 'waiting' AND w.id <= me.id) AS position
           FROM listing_waitlist me WHERE me.buyer = $1 AND me.status = 'waiting'
           ORDER BY me.id DESC LIMIT 100""",
        principal.user_id,
    )
    return [WaitlistRead(listing_id=row["listing"], position=row["position"]) for row in rows]

"""The watchlist: aircraft a signed-in user keeps an eye on.

A watch is a row (user, listing); the page shows each watched listing's current price and status and
follows them live on the public `listing:<id>` channels, so the read rules of listings apply unchanged:
a watched listing that leaves public view (draft, suspended, withdrawn) is answered as unavailable,
with no listing data, to anyone but its seller side, and its channel says only that it is gone.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor
from app.listings import policy, service
from app.listings.schemas import ListingRead, WatchRead, listing_read
from app.listings.state import Status

MAX_WATCHES = 200


class TooManyWatches(Conflict):
    code, title = "too_many_watches", "Watchlist is full"


async def watch(principal: Principal, listing_id: uuid.UUID) -> tuple[WatchRead, bool]:
    """Put a listing the caller may read on their watchlist; (the watch, whether it is new)."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1", listing_id)
        if row is None or not policy.may_read_row(row, principal):
            raise NotFound("listing not found")
        # One user's watches are added one at a time, so the limit holds under concurrent requests.
        await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"watch:{principal.user_id}")
        existing = await uow.conn.fetchval(
            "SELECT created_at FROM listing_watches WHERE user_id = $1 AND listing = $2",
            principal.user_id,
            listing_id,
        )
        if existing is not None:
            return await _one(row, existing), False
        count = await uow.conn.fetchval(
            "SELECT count(*) FROM listing_watches WHERE user_id = $1", principal.user_id
        )
        if count >= MAX_WATCHES:
            raise TooManyWatches(f"at most {MAX_WATCHES} aircraft on a watchlist")
        created = await uow.conn.fetchval(
            "INSERT INTO listing_watches (user_id, listing) VALUES ($1, $2) RETURNING created_at",
            principal.user_id,
            listing_id,
        )
    return await _one(row, created), True


async def unwatch(principal: Principal, listing_id: uuid.UUID) -> None:
    """Take a listing off the caller's watchlist (nothing happens when it was not on it)."""
    async with UnitOfWork() as uow:
        await uow.conn.execute(
            "DELETE FROM listing_watches WHERE user_id = $1 AND listing = $2", principal.user_id, listing_id
        )


async def _one(row, watched_at: datetime) -> WatchRead:
    holds = await service._active_holds([row["id"]]) if row["status"] == Status.ON_HOLD else {}
    return _read(row["id"], watched_at, listing_read(row, holds.get(row["id"])))


def _read(listing_id: uuid.UUID, watched_at: datetime, listing: ListingRead | None) -> WatchRead:
    return WatchRead(
        listing_id=listing_id, watched_at=watched_at, available=listing is not None, listing=listing
    )


async def watchlist(principal: Principal, *, limit: int, cursor: str | None) -> Page[WatchRead]:
    """The caller's watches, newest first, each with the listing as it is now (or unavailable)."""
    args: list = [principal.user_id]
    after = ""
    position = decode_cursor(cursor, 2)
    if position is not None:
        try:
            args += [datetime.fromisoformat(position[0]), uuid.UUID(position[1])]
        except (ValueError, TypeError):
            raise ValidationFailed(
                "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
            ) from None
        after = "AND (w.created_at, w.listing) < ($2, $3)"
    args.append(limit + 1)
    rows = await db.fetch(
        f"""SELECT w.created_at AS watched_at, l.* FROM listing_watches w JOIN listings l ON l.id = w.listing
            WHERE w.user_id = $1 {after}
            ORDER BY w.created_at DESC, w.listing DESC LIMIT ${len(args)}""",
        *args,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["watched_at"].isoformat(), str(rows[-1]["id"])])
    holds = await service._active_holds([r["id"] for r in rows if r["status"] == Status.ON_HOLD])
    items = [
        _read(
            r["id"],
            r["watched_at"],
            listing_read(r, holds.get(r["id"])) if policy.may_read_row(r, principal) else None,
        )
        for r in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


async def watched_ids(principal: Principal, listing_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Which of `listing_ids` the caller watches (cards on a results page mark them)."""
    if not listing_ids:
        return []
    rows = await db.fetch(
        "SELECT listing FROM listing_watches WHERE user_id = $1 AND listing = ANY($2::uuid[])",
        principal.user_id,
        listing_ids,
    )
    return [r["listing"] for r in rows]


async def watchers(listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many users watch each listing (the seller's stats)."""
    if not listing_ids:
        return {}
    rows = await db.fetch(
        "SELECT listing, count(*) AS n FROM listing_watches WHERE listing = ANY($1::uuid[]) GROUP BY listing",
        listing_ids,
    )
    return {r["listing"]: r["n"] for r in rows}

"""Saved searches: buyers keep a query; listing events that newly match or drop in price alert them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, NotFound
from app.notifications.service import notify
from app.search import feed
from app.search.backends.postgres import PostgresSearch
from app.search.schemas import SavedQuery, SavedSearchCreate, SavedSearchRead, SearchQuery

MAX_SAVED_SEARCHES = 50
CURSOR = "saved_searches"
# Alerts are about aircraft a buyer can act on now.
ALERT_STATUSES = ("active",)


class TooManySavedSearches(Conflict):
    code, title = "too_many_saved_searches", "Saved search limit reached"


def _query(value) -> SavedQuery:
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value, type=SavedQuery)
    return msgspec.convert(value, SavedQuery)


def _read(row) -> SavedSearchRead:
    return SavedSearchRead(
        id=row["id"], name=row["name"], query=_query(row["query"]), created_at=row["created_at"]
    )


async def create_saved_search(principal: Principal, data: SavedSearchCreate) -> SavedSearchRead:
    """Save a search for the signed-in user (at most MAX_SAVED_SEARCHES each)."""
    async with UnitOfWork() as uow:
        # Serialize one user's creates so the limit holds under concurrent requests.
        await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"saved:{principal.user_id}")
        count = await uow.conn.fetchval(
            "SELECT count(*) FROM saved_searches WHERE user_id = $1", principal.user_id
        )
        if count >= MAX_SAVED_SEARCHES:
            raise TooManySavedSearches(f"at most {MAX_SAVED_SEARCHES} saved searches per user")
        row = await uow.conn.fetchrow(
            """INSERT INTO saved_searches (user_id, name, query) VALUES ($1, $2, $3)
               RETURNING id, name, query, created_at""",
            principal.user_id,
            data.name,
            msgspec.json.encode(data.query).decode(),
        )
    return _read(row)


async def list_saved_searches(principal: Principal) -> list[SavedSearchRead]:
    """The signed-in user's saved searches, oldest first."""
    rows = await db.fetch(
        "SELECT id, name, query, created_at FROM saved_searches WHERE user_id = $1 ORDER BY created_at, id",
        principal.user_id,
    )
    return [_read(r) for r in rows]


async def delete_saved_search(principal: Principal, saved_search_id: uuid.UUID) -> None:
    """Delete one of the signed-in user's saved searches; someone else's is a 404."""
    async with UnitOfWork() as uow:
        deleted = await uow.conn.fetchval(
            "DELETE FROM saved_searches WHERE id = $1 AND user_id = $2 RETURNING id",
            saved_search_id,
            principal.user_id,
        )
    if deleted is None:
        raise NotFound("saved search not found")


def to_search_query(saved: SavedQuery, listing_ids: list[uuid.UUID]) -> SearchQuery:
    """The saved query restricted to `listing_ids`, as the search backend takes it."""
    return SearchQuery(
        q=saved.q,
        manufacturer=saved.manufacturer,
        model=saved.model,
        year_min=saved.year_min,
        year_max=saved.year_max,
        price_min=Decimal(saved.price_min) if saved.price_min else None,
        price_max=Decimal(saved.price_max) if saved.price_max else None,
        hours_max=saved.hours_max,
        seats_min=saved.seats_min,
        range_min=saved.range_min,
        country=saved.country,
        engine_type=saved.engine_type,
        statuses=ALERT_STATUSES,
        sort="newest",
        limit=len(listing_ids),
        listing_ids=tuple(listing_ids),
    )


async def evaluate_saved_searches(*, batch: int = 500) -> dict[str, int]:
    """Read listing events since the last run; alert each saved search's owner about new matches
    and price drops. Position, match rows, notifications and their events commit together."""
    backend = PostgresSearch()  # always PostgreSQL: it sees the committed row, never a lagging index
    sent = {"events_read": 0, "new_match": 0, "price_drop": 0}
    async with UnitOfWork() as uow:
        after = await feed.read_position(uow.conn, CURSOR)
        rows, position = await feed.changed_listings(uow.conn, after, limit=batch)
        if position == after:
            return sent
        sent["events_read"] = position - after
        ids = [r["id"] for r in rows if r["status"] in ALERT_STATUSES]
        searches = await uow.conn.fetch("SELECT id, user_id, name, query FROM saved_searches") if ids else []
        for search in searches:
            result = await backend.search(to_search_query(_query(search["query"]), ids))
            for listing in result.items:
                if listing.seller_id == search["user_id"]:
                    continue  # nobody needs an alert about their own aircraft
                kind = await _record_match(uow.conn, search["id"], listing.id, Decimal(listing.price))
                if kind:
                    await _alert(uow, search, listing, kind)
                    sent[kind] += 1
        await feed.save_position(uow.conn, CURSOR, position)
    return sent


async def _record_match(conn, saved_search_id, listing_id, price: Decimal) -> str | None:
    """'new_match', 'price_drop' or None; remembers the price the buyer is told about."""
    previous = await conn.fetchval(
        "SELECT notified_price FROM saved_search_matches WHERE saved_search = $1 AND listing = $2",
        saved_search_id,
        listing_id,
    )
    if previous is not None and price >= previous:
        return None
    await conn.execute(
        """INSERT INTO saved_search_matches (saved_search, listing, notified_price) VALUES ($1, $2, $3)
           ON CONFLICT (saved_search, listing) DO UPDATE SET notified_price = $3, notified_at = now()""",
        saved_search_id,
        listing_id,
        price,
    )
    return "new_match" if previous is None else "price_drop"


def _message(search, listing, kind: str) -> tuple[str, str]:
    name = f"{listing.year_manufactured} {listing.manufacturer} {listing.model}"
    if kind == "new_match":
        return f"New match for “{search['name']}”", f"{name}, {listing.price} {listing.currency}"
    return f"Price drop on {name}", f"Now {listing.price} {listing.currency} (“{search['name']}”)"


async def _alert(uow: UnitOfWork, search, listing, kind: str) -> None:
    """Store the notification and emit `notification.created` on the buyer's channel, in one commit."""
    title, body = _message(search, listing, kind)
    data: dict[str, Any] = {
        "savedSearchId": str(search["id"]),
        "listingId": str(listing.id),
        "price": listing.price,
    }
    await notify(uow, search["user_id"], f"saved_search.{kind}", title, body, f"/listings/{listing.id}", data)

"""What goes into each kind of report: the search's own rows for the filters, page by page.

The listings of a report are exactly what `GET /api/search` returns for the same filters (the same
query object, backend and visibility rule), read in large pages, so the file and the API agree.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import db
from app.core.pagination import MAX_LIMIT, Page
from app.deals import contracts
from app.deals import queries as offers
from app.listings.schemas import ListingRead
from app.listings.state import Status
from app.search import service as search
from app.search.backends.base import SearchBackend
from app.search.schemas import SavedQuery, SearchQuery

# Large pages: each search page also counts its matches, and each page is one thread hand-off.
PAGE = 2000
ALL_STATUSES = tuple(s.value for s in Status)


def search_query(filters: SavedQuery, *, seller_id: uuid.UUID | None = None) -> SearchQuery:
    """The search a report runs: the search filters, every status for a seller's own inventory."""
    q = filters.q.strip()
    return SearchQuery(
        q=q,
        manufacturer=filters.manufacturer,
        model=filters.model,
        year_min=filters.year_min,
        year_max=filters.year_max,
        price_min=Decimal(filters.price_min) if filters.price_min else None,
        price_max=Decimal(filters.price_max) if filters.price_max else None,
        hours_max=filters.hours_max,
        seats_min=filters.seats_min,
        range_min=filters.range_min,
        country=filters.country,
        engine_type=filters.engine_type,
        statuses=ALL_STATUSES if seller_id else (),
        seller_id=seller_id,
        sort="relevance" if q else "newest",
        limit=PAGE,
    )


async def listing_pages(
    backend: SearchBackend, query: SearchQuery
) -> AsyncIterator[tuple[list[ListingRead], int]]:
    """(page of listings, estimated total) until the search runs out."""
    cursor: str | None = None
    while True:
        if query.seller_id is not None:
            # A seller's own inventory: every status of their listings (search's visibility rule for
            # "own" listings), asked of the backend directly since the worker has no session.
            result = await backend.search(msgspec.structs.replace(query, cursor=cursor))
        else:
            result = await search.search(backend, msgspec.structs.replace(query, cursor=cursor), None)
        yield result.items, result.estimated_total
        cursor = result.next_cursor
        if not cursor or not result.items:
            return


async def price_history(listing_ids: list[uuid.UUID]):
    """Every price change of these listings (old → new), oldest first per listing. A listing's opening
    price (the history row without an old price) is its Price and Listed date on the Listings sheet."""
    return await db.fetch(
        """SELECT listing, old_price, new_price, currency, changed_at FROM listing_price_history
           WHERE listing = ANY($1::uuid[]) AND old_price IS NOT NULL ORDER BY listing, changed_at, id""",
        listing_ids,
    )


async def inventory_activity(listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Per listing: holds (all, active), waiting buyers, saved-search alerts sent, price changes."""
    rows = await db.fetch(
        """SELECT l.id,
                  (SELECT count(*) FROM listing_holds h WHERE h.listing = l.id) AS holds,
                  (SELECT count(*) FROM listing_holds h WHERE h.listing = l.id AND h.status = 'active')
                      AS active_holds,
                  (SELECT count(*) FROM listing_waitlist w WHERE w.listing = l.id AND w.status = 'waiting')
                      AS waitlist,
                  (SELECT count(*) FROM saved_search_matches m WHERE m.listing = l.id) AS alerts,
                  (SELECT count(*) FROM listing_price_history p WHERE p.listing = l.id) AS price_changes
           FROM unnest($1::uuid[]) AS l (id)""",
        listing_ids,
    )
    return {r["id"]: dict(r) for r in rows}


def _owner(owner_id: uuid.UUID) -> Principal:
    """The report's owner as the deals API sees them listing their own offers and deals (those reads
    go by who asks, never by role: an admin's report holds their own trades, as their lists do)."""
    return Principal(
        user_id=owner_id, email="", roles=frozenset(), permissions=frozenset(), verification_level=0
    )


async def _pages(read: Callable[[str | None], Awaitable[Page]]) -> AsyncIterator[tuple[list, bool]]:
    cursor: str | None = None
    while True:
        page = await read(cursor)
        cursor = page.next_cursor
        yield page.items, bool(cursor)
        if not cursor:
            return


def deal_pages(owner_id: uuid.UUID) -> AsyncIterator[tuple[list, bool]]:
    """(page of the owner's deals as `GET /api/deals` returns them, more to come)."""
    owner = _owner(owner_id)
    return _pages(lambda cursor: contracts.list_deals(owner, status=None, limit=MAX_LIMIT, cursor=cursor))


def offer_pages(owner_id: uuid.UUID) -> AsyncIterator[tuple[list, bool]]:
    """(page of the owner's offers, made and received, as `GET /api/offers` returns them, more to come)."""
    owner = _owner(owner_id)
    return _pages(
        lambda cursor: offers.list_my_offers(owner, role=None, status=None, limit=MAX_LIMIT, cursor=cursor)
    )


async def listings_named(listing_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """What a trade's row says about its aircraft: maker, model, year, tail number."""
    rows = await db.fetch(
        """SELECT id, manufacturer, model, year_manufactured, tail_number FROM listings
           WHERE id = ANY($1::uuid[])""",
        list(set(listing_ids)),
    )
    return {r["id"]: dict(r) for r in rows}


async def commission_rates(seller_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Each seller's commission rate now (their plan's; what a deal made today would carry)."""
    from app.payments.plans import commission_rate

    async with db.engine().pool.acquire() as conn:
        return {seller: await commission_rate(conn, seller) for seller in set(seller_ids)}

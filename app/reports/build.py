"""Building one report file: rows from `sources`, written by `excel`, progress reported as it goes.

Every kind is a writer (its sheets, how a page of rows goes into them, what is written at the end)
driven by `_stream_book`: the next page is read from the database while this one is written.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from app.deals.contracts import commission_of
from app.deals.schemas import DealRead, OfferRead
from app.deals.service import deposit_for
from app.listings.schemas import ListingRead
from app.reports import sources
from app.reports.excel import Book, Column
from app.search.backends.base import SearchBackend
from app.search.schemas import SavedQuery

Progress = Callable[[int, int], Awaitable[None]]
LINK_LABEL = "Open in ATP"

LISTING_COLUMNS = [
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Year", "int", 8),
    Column("Tail number", width=12),
    Column("Hours", "int", 10),
    Column("Price", "money", 16),
    Column("Currency", width=9),
    Column("Country", width=8),
    Column("City", width=16),
    Column("Status", width=14),
    Column("Listed", "date", 12),
    Column("Days on market", "int", 10),
    Column("Description", width=50),
    Column("Link", "link", 14),
]
HISTORY_COLUMNS = [
    Column("Tail number", width=12),
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Changed", "datetime", 17),
    Column("Old price", "money", 16),
    Column("New price", "money", 16),
    Column("Currency", width=9),
    Column("Change", "percent", 10),
]
TYPE_COLUMNS = [
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Currency", width=9),
    Column("Listings", "int", 10),
    Column("Min price", "money", 16),
    Column("Median price", "money", 16),
    Column("Mean price", "money", 16),
    Column("Max price", "money", 16),
    Column("Mean year", "number", 10),
    Column("Mean hours", "int", 11),
]
PERIOD_COLUMNS = [
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Listed in", width=10),
    Column("Currency", width=9),
    Column("Listings", "int", 10),
    Column("Min price", "money", 16),
    Column("Median price", "money", 16),
    Column("Max price", "money", 16),
]
INVENTORY_COLUMNS = [
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Year", "int", 8),
    Column("Tail number", width=12),
    Column("Status", width=14),
    Column("Price", "money", 16),
    Column("Currency", width=9),
    Column("Listed", "date", 12),
    Column("Days on market", "int", 10),
    Column("Holds", "int", 8),
    Column("Active hold", width=10),
    Column("Waitlist", "int", 9),
    Column("Saved-search alerts", "int", 12),
    Column("Price changes", "int", 10),
    Column("Link", "link", 14),
]
TRADE_COLUMNS = [
    Column("Manufacturer", width=18),
    Column("Model", width=18),
    Column("Year", "int", 8),
    Column("Tail number", width=12),
    Column("Your side", width=10),
]
DEAL_COLUMNS = [
    *TRADE_COLUMNS,
    Column("Status", width=15),
    Column("Price", "money", 16),
    Column("Currency", width=9),
    Column("Deposit", "money", 14),
    Column("Deposit status", width=12),
    Column("Commission rate", "percent", 11),
    Column("Commission", "money", 14),
    Column("Commission booked", width=11),
    Column("Agreed", "datetime", 17),
    Column("Ended", "datetime", 17),
    Column("Reason", width=30),
    Column("Link", "link", 14),
]
OFFER_COLUMNS = [
    *TRADE_COLUMNS,
    Column("Status", width=11),
    Column("Next move", width=10),
    Column("Amount", "money", 16),
    Column("Currency", width=9),
    Column("Deposit", "money", 14),
    Column("Pre-buy inspection", width=10),
    Column("Closing date", "date", 12),
    Column("Commission rate", "percent", 11),
    Column("Commission", "money", 14),
    Column("Made", "datetime", 17),
    Column("Last change", "datetime", 17),
    Column("Expires", "datetime", 17),
    Column("Last message", width=40),
    Column("Link", "link", 14),
]
CHART_TYPES = 15  # the chart shows the most-listed types


def _days(listing: ListingRead, now: datetime) -> int:
    return max(0, (now - listing.created_at).days)


def _quarter(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _link(public_url: str, path: str) -> tuple[str, str]:
    return f"{public_url}{path}", LINK_LABEL


class _Writer(Protocol):
    """One kind of report: its sheets (made on creation), pages of rows, and the end."""

    rows: int

    def write(self, page: Any) -> None: ...

    def finish(self) -> None: ...


Pages = AsyncIterator[tuple[Any, int]]  # (a page for the writer, rows expected in all)


async def _stream_book(
    path: Path, make_writer: Callable[[Book], _Writer], pages: Pages, progress: Progress
) -> int:
    """Write `pages` into a new workbook at `path` through the writer; the rows written.

    The next page is read while this one is written (in a thread: both take time). On any error the
    writer's temporary files are closed and the exception goes on (the caller deletes the file).
    """
    book = Book(path)
    pending: asyncio.Future | None = None
    try:
        writer = make_writer(book)
        pending = asyncio.ensure_future(anext(pages, None))
        while (current := await pending) is not None:
            pending = asyncio.ensure_future(anext(pages, None))
            page, total = current
            await asyncio.to_thread(writer.write, page)
            await progress(writer.rows, max(total, writer.rows))
        await asyncio.to_thread(_close, book, writer)
    except BaseException:
        if pending is not None and not pending.done():
            pending.cancel()
        await asyncio.to_thread(_abandon, book)
        raise
    return writer.rows


def _close(book: Book, writer: _Writer) -> None:
    writer.finish()
    book.close()


def _abandon(book: Book) -> None:
    # Close the writer's temporary files; the caller deletes the half-made workbook.
    try:
        book.close()
    except Exception:
        pass


# --- market ---------------------------------------------------------------------------------------------


class _Market:
    """Price statistics by type and by quarter (with a chart), the listings, their price changes."""

    def __init__(self, book: Book, public_url: str) -> None:
        self.book, self.public_url, self.now = book, public_url, datetime.now(UTC)
        # Sheets in the order a reader wants them; the statistics are written last (they need every row).
        self.summary = book.sheet("Price statistics", TYPE_COLUMNS)
        self.by_period = book.sheet("By period", PERIOD_COLUMNS)
        self.listings = book.sheet("Listings", LISTING_COLUMNS)
        self.history = book.sheet("Price history", HISTORY_COLUMNS)
        # Prices per type and per (type, quarter listed): a few numbers per listing, never the rows.
        self.by_type: dict[tuple[str, str, str], list[tuple[float, int, int]]] = defaultdict(list)
        self.by_quarter: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)

    @property
    def rows(self) -> int:
        return self.listings.rows

    def write(self, page: tuple[list[ListingRead], list]) -> None:
        listings, changes = page
        now, public_url = self.now, self.public_url
        by_type, by_quarter = self.by_type, self.by_quarter
        for listing in listings:
            price = float(listing.price)
            by_type[(listing.manufacturer, listing.model, listing.currency)].append(
                (price, listing.year_manufactured, listing.hours_total)
            )
            quarter = _quarter(listing.created_at)
            by_quarter[(listing.manufacturer, listing.model, quarter, listing.currency)].append(price)
        self.listings.append_rows(
            [
                (
                    listing.manufacturer,
                    listing.model,
                    listing.year_manufactured,
                    listing.tail_number,
                    listing.hours_total,
                    listing.price,
                    listing.currency,
                    listing.location_country,
                    listing.location_city,
                    listing.status,
                    listing.created_at,
                    _days(listing, now),
                    listing.description,
                    _link(public_url, f"/listings/{listing.id}"),
                )
                for listing in listings
            ]
        )
        by_id = {listing.id: listing for listing in listings}
        self.history.append_rows(
            [
                (
                    (listing := by_id[change["listing"]]).tail_number,
                    listing.manufacturer,
                    listing.model,
                    change["changed_at"],
                    (old := change["old_price"]),
                    (new := change["new_price"]),
                    change["currency"],
                    float((new - old) / old) if old else None,
                )
                for change in changes
            ]
        )

    def finish(self) -> None:
        self.listings.finish()
        self.history.finish()
        ordered = sorted(self.by_type.items(), key=lambda item: (-len(item[1]), item[0]))
        self.summary.append_rows(
            [
                (
                    maker,
                    model,
                    currency,
                    len(values),
                    min(prices := [v[0] for v in values]),
                    statistics.median(prices),
                    statistics.fmean(prices),
                    max(prices),
                    statistics.fmean(v[1] for v in values),
                    round(statistics.fmean(v[2] for v in values)),
                )
                for (maker, model, currency), values in ordered
            ]
        )
        self.summary.finish()
        self.by_period.append_rows(
            [
                (
                    maker,
                    model,
                    quarter,
                    currency,
                    len(prices),
                    min(prices),
                    statistics.median(prices),
                    max(prices),
                )
                for (maker, model, quarter, currency), prices in sorted(self.by_quarter.items())
            ]
        )
        self.by_period.finish()
        self._chart(min(len(ordered), CHART_TYPES))

    def _chart(self, shown: int) -> None:
        if not shown:
            return
        chart = self.book.workbook.add_chart({"type": "column"})
        name = self.summary.ws.get_name().replace("'", "''")
        chart.add_series(
            {
                "name": "Median price",
                # Categories: manufacturer and model (two columns make a two-level axis).
                "categories": f"='{name}'!$A$2:$B${shown + 1}",
                "values": f"='{name}'!$F$2:$F${shown + 1}",
                "data_labels": {"value": False},
            }
        )
        chart.set_title({"name": "Median asking price by type (most listed)"})
        chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True}})
        chart.set_legend({"none": True})
        chart.set_size({"width": 900, "height": 420})
        self.summary.ws.insert_chart("L2", chart)


async def build_market(
    path: Path, filters: SavedQuery, *, backend: SearchBackend, public_url: str, progress: Progress
) -> int:
    """The search's listings for `filters`, their price changes and statistics."""

    async def pages() -> Pages:
        async for listings, total in sources.listing_pages(backend, sources.search_query(filters)):
            ids = [listing.id for listing in listings]
            yield (listings, await sources.price_history(ids) if ids else []), total

    return await _stream_book(path, lambda book: _Market(book, public_url), pages(), progress)


# --- inventory ------------------------------------------------------------------------------------------


class _Inventory:
    """The owner's listings (every status) with holds, waitlist, alerts, price changes, days on market."""

    def __init__(self, book: Book, public_url: str) -> None:
        self.public_url, self.now = public_url, datetime.now(UTC)
        self.sheet = book.sheet("Inventory", INVENTORY_COLUMNS)

    @property
    def rows(self) -> int:
        return self.sheet.rows

    def write(self, page: tuple[list[ListingRead], dict]) -> None:
        listings, activity = page
        empty: dict[str, int] = {}
        self.sheet.append_rows(
            [
                (
                    listing.manufacturer,
                    listing.model,
                    listing.year_manufactured,
                    listing.tail_number,
                    listing.status,
                    listing.price,
                    listing.currency,
                    listing.created_at,
                    _days(listing, self.now),
                    (counts := activity.get(listing.id, empty)).get("holds", 0),
                    "yes" if counts.get("active_holds") else "no",
                    counts.get("waitlist", 0),
                    counts.get("alerts", 0),
                    counts.get("price_changes", 0),
                    _link(self.public_url, f"/listings/{listing.id}"),
                )
                for listing in listings
            ]
        )

    def finish(self) -> None:
        self.sheet.finish()


async def build_inventory(
    path: Path,
    filters: SavedQuery,
    *,
    owner_id,
    backend: SearchBackend,
    public_url: str,
    progress: Progress,
) -> int:
    """The owner's listings of every status in `filters`, with their activity."""

    async def pages() -> Pages:
        query = sources.search_query(filters, seller_id=owner_id)
        async for listings, total in sources.listing_pages(backend, query):
            ids = [listing.id for listing in listings]
            yield (listings, await sources.inventory_activity(ids) if ids else {}), total

    return await _stream_book(path, lambda book: _Inventory(book, public_url), pages(), progress)


# --- deals ----------------------------------------------------------------------------------------------


def _side(owner_id, trade: OfferRead | DealRead) -> str:
    if owner_id == trade.buyer_id:
        return "buyer"
    return "broker" if owner_id == trade.broker_id else "seller"


def _aircraft(listings: dict, listing_id) -> tuple:
    listing = listings.get(listing_id) or {}
    return (
        listing.get("manufacturer"),
        listing.get("model"),
        listing.get("year_manufactured"),
        listing.get("tail_number"),
    )


class _Deals:
    """The owner's deals and offers (as buyer, seller or broker), exactly as the deals API lists them,
    with deposits and commissions at the seller's plan rate."""

    def __init__(self, book: Book, owner_id, public_url: str) -> None:
        self.owner_id, self.public_url = owner_id, public_url
        self.deals = book.sheet("Deals", DEAL_COLUMNS)
        self.offers = book.sheet("Offers", OFFER_COLUMNS)

    @property
    def rows(self) -> int:
        return self.deals.rows + self.offers.rows

    def write(self, page: tuple[str, list, dict, dict]) -> None:
        kind, items, listings, rates = page
        if kind == "deals":
            self.deals.append_rows([self._deal(deal, listings) for deal in items])
        else:
            self.offers.append_rows([self._offer(offer, listings, rates) for offer in items])

    def _deal(self, deal: DealRead, listings: dict) -> tuple:
        rate = Decimal(deal.commission.rate)
        booked = deal.commission.amount
        return (
            *_aircraft(listings, deal.listing_id),
            _side(self.owner_id, deal),
            deal.status,
            deal.price,
            deal.currency,
            deal.deposit.amount,
            deal.deposit.status,
            rate,
            booked if booked is not None else commission_of(Decimal(deal.price), rate),
            "yes" if booked is not None else "no",
            deal.created_at,
            deal.closed_at,
            deal.reason,
            _link(self.public_url, f"/deals/{deal.id}"),
        )

    def _offer(self, offer: OfferRead, listings: dict, rates: dict) -> tuple:
        rate = rates[offer.seller_id]
        conditions = offer.conditions
        said = [step.message for step in offer.history if step.message]
        return (
            *_aircraft(listings, offer.listing_id),
            _side(self.owner_id, offer),
            offer.status,
            offer.turn,
            offer.amount,
            offer.currency,
            deposit_for(Decimal(offer.amount), conditions.deposit_amount),
            "yes" if conditions.prebuy_inspection else "no",
            conditions.closing_date,
            rate,
            commission_of(Decimal(offer.amount), rate),
            offer.created_at,
            offer.updated_at,
            offer.expires_at,
            said[-1] if said else None,
            _link(self.public_url, f"/listings/{offer.listing_id}"),
        )

    def finish(self) -> None:
        self.deals.finish()
        self.offers.finish()


async def build_deals(path: Path, *, owner_id, public_url: str, progress: Progress) -> int:
    """The owner's deals, then their offers, page by page as the deals API returns them."""

    async def pages() -> Pages:
        done = 0
        for kind, read in (("deals", sources.deal_pages), ("offers", sources.offer_pages)):
            async for items, more in read(owner_id):
                listings = await sources.listings_named([item.listing_id for item in items])
                rates = (
                    await sources.commission_rates([i.seller_id for i in items]) if kind == "offers" else {}
                )
                done += len(items)
                # The total is unknown until the last page: a page more, or the offers still to come.
                yield (kind, items, listings, rates), done + (sources.PAGE if more or kind == "deals" else 0)

    return await _stream_book(path, lambda book: _Deals(book, owner_id, public_url), pages(), progress)

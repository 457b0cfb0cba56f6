"""Building one report file: rows from `sources`, written by `excel`, progress reported as it goes."""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

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
CHART_TYPES = 15  # the chart shows the most-listed types


def _days(listing: ListingRead, now: datetime) -> int:
    return max(0, (now - listing.created_at).days)


def _quarter(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


class _Stats:
    """Prices per type and per (type, quarter listed); a few floats per listing, never the rows."""

    def __init__(self) -> None:
        self.by_type: dict[tuple[str, str, str], list[tuple[float, int, int]]] = defaultdict(list)
        self.by_period: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)

    def add(self, listing: ListingRead) -> None:
        price = float(listing.price)
        key = (listing.manufacturer, listing.model, listing.currency)
        self.by_type[key].append((price, listing.year_manufactured, listing.hours_total))
        period = _quarter(listing.created_at)
        self.by_period[(listing.manufacturer, listing.model, period, listing.currency)].append(price)


def _write_summary(book: Book, summary, by_period, stats: _Stats) -> None:
    ordered = sorted(stats.by_type.items(), key=lambda item: (-len(item[1]), item[0]))
    for (maker, model, currency), values in ordered:
        prices = [v[0] for v in values]
        summary.append(
            [
                maker,
                model,
                currency,
                len(values),
                min(prices),
                statistics.median(prices),
                statistics.fmean(prices),
                max(prices),
                statistics.fmean(v[1] for v in values),
                round(statistics.fmean(v[2] for v in values)),
            ]
        )
    summary.finish()
    for (maker, model, period, currency), prices in sorted(stats.by_period.items()):
        by_period.append(
            [maker, model, period, currency, len(prices), min(prices), statistics.median(prices), max(prices)]
        )
    by_period.finish()
    shown = min(len(ordered), CHART_TYPES)
    if not shown:
        return
    chart = book.workbook.add_chart({"type": "column"})
    name = summary.ws.get_name().replace("'", "''")
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
    summary.ws.insert_chart("L2", chart)


async def build_market(
    path: Path, filters: SavedQuery, *, backend: SearchBackend, public_url: str, progress: Progress
) -> int:
    """Price statistics by type and by quarter (with a chart), the listings, their price changes."""
    now = datetime.now(UTC)
    book = Book(path)
    # Sheets in the order a reader wants them; the statistics are written last (they need every row).
    summary = book.sheet("Price statistics", TYPE_COLUMNS)
    by_period = book.sheet("By period", PERIOD_COLUMNS)
    listings = book.sheet("Listings", LISTING_COLUMNS)
    history = book.sheet("Price history", HISTORY_COLUMNS)
    stats = _Stats()
    pages = sources.listing_pages(backend, sources.search_query(filters))

    async def read_next():
        try:
            page, total = await anext(pages)
        except StopAsyncIteration:
            return None
        return page, total, (await sources.price_history([listing.id for listing in page]) if page else [])

    pending: asyncio.Future | None = None
    try:
        # The next page is read from the database while this one is written (a thread): both take time.
        pending = asyncio.ensure_future(read_next())
        while (current := await pending) is not None:
            pending = asyncio.ensure_future(read_next())
            page, total, changes = current
            await asyncio.to_thread(
                _write_market_page, listings, history, stats, page, changes, now, public_url
            )
            await progress(listings.rows, max(total, listings.rows))
        await asyncio.to_thread(_finish_market, book, summary, by_period, listings, history, stats)
    except BaseException:
        if pending is not None and not pending.done():
            pending.cancel()
        await asyncio.to_thread(_abandon, book)
        raise
    return listings.rows


def _write_market_page(
    listings, history, stats: _Stats, page, changes, now: datetime, public_url: str
) -> None:
    by_id = {listing.id: listing for listing in page}
    for listing in page:
        stats.add(listing)
        listings.append(
            [
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
                (f"{public_url}/listings/{listing.id}", LINK_LABEL),
            ]
        )
    for change in changes:
        listing = by_id[change["listing"]]
        old, new = change["old_price"], change["new_price"]
        history.append(
            [
                listing.tail_number,
                listing.manufacturer,
                listing.model,
                change["changed_at"],
                old,
                new,
                change["currency"],
                float((new - old) / old) if old else None,
            ]
        )


def _finish_market(book: Book, summary, by_period, listings, history, stats: _Stats) -> None:
    listings.finish()
    history.finish()
    _write_summary(book, summary, by_period, stats)
    book.close()


def _abandon(book: Book) -> None:
    # Close the writer's temporary files; the caller deletes the half-made workbook.
    try:
        book.close()
    except Exception:
        pass


async def build_inventory(
    path: Path,
    filters: SavedQuery,
    *,
    owner_id,
    backend: SearchBackend,
    public_url: str,
    progress: Progress,
) -> int:
    """The owner's listings (every status) with holds, waitlist, alerts, price changes, days on market."""
    now = datetime.now(UTC)
    book = Book(path)
    sheet = book.sheet("Inventory", INVENTORY_COLUMNS)
    try:
        query = sources.search_query(filters, seller_id=owner_id)
        async for page, total in sources.listing_pages(backend, query):
            activity = await sources.inventory_activity([listing.id for listing in page]) if page else {}
            await asyncio.to_thread(_write_inventory_page, sheet, page, activity, now, public_url)
            await progress(sheet.rows, max(total, sheet.rows))
        sheet.finish()
        await asyncio.to_thread(book.close)
    except BaseException:
        await asyncio.to_thread(_abandon, book)
        raise
    return sheet.rows


def _write_inventory_page(sheet, page, activity, now: datetime, public_url: str) -> None:
    for listing in page:
        counts = activity.get(listing.id, {})
        sheet.append(
            [
                listing.manufacturer,
                listing.model,
                listing.year_manufactured,
                listing.tail_number,
                listing.status,
                listing.price,
                listing.currency,
                listing.created_at,
                _days(listing, now),
                counts.get("holds", 0),
                "yes" if counts.get("active_holds") else "no",
                counts.get("waitlist", 0),
                counts.get("alerts", 0),
                counts.get("price_changes", 0),
                (f"{public_url}/listings/{listing.id}", LINK_LABEL),
            ]
        )

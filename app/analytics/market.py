"""Market events: the outbox feed turned into market facts (listed, repriced, sold, delisted) and rollups.

A consumer reads committed listing events after its own position (app/core/consumers.py), writes one
`market_events` row per outbox event id (a replay is a no-op), and recomputes the rollups of exactly the
(type, period) pairs the new rows touch, in the same transaction as the position it saves. So the rollups
always equal an aggregate over `market_events` (tests/analytics/test_market.py checks that).

A rollup's observations: each listing seen in a period counts once, at its last price event of that period
(listed, repriced or sold); `listings` counts them, `sales` those whose last event was a sale, and the
statistics are over their prices in USD. Drafts never enter: a listing becomes market data when it is
published, and its facts are only ever read as aggregates or as public comparables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from app.core import consumers
from app.listings import policy
from realtime import channels

CURSOR_TABLE = "analytics_cursors"
CURSOR = "market"
LISTING_EVENTS = ("listing.created", "listing.status_changed", "listing.price_changed")
VERIFICATION_EVENTS = ("verification.status_changed",)
# Deal steps that change who bought from whom (risk.broker_buyer_concentration); every one reaches `admin`.
DEAL_EVENTS = ("offer.accepted", "deal.closed", "deal.fallen_through")
INTERVALS = {"month": "1 month", "quarter": "3 months"}
# Statuses in which an aircraft is on the market (a price is an asking price).
ON_MARKET = frozenset({"active", "on_hold", "under_contract"})
PRICE_KINDS = ("listed", "repriced", "sold")


class Fact(msgspec.Struct, frozen=True):
    """One market fact about to be written."""

    event_id: uuid.UUID
    listing_id: uuid.UUID
    kind: str
    manufacturer: str
    model: str
    year: int
    hours: int | None
    price: Any  # Decimal | None
    currency: str | None
    status: str
    seller_id: uuid.UUID | None
    occurred_at: datetime


class Batch(msgspec.Struct):
    """What one consumer run did: facts written, listings and verification cases to re-check for risk."""

    events: int = 0
    facts: int = 0
    rollups: int = 0
    listings: list[uuid.UUID] = []
    price_changes: list[dict[str, Any]] = []
    verification_cases: list[uuid.UUID] = []
    deals: list[uuid.UUID] = []
    position: int = 0


def type_key(text: str) -> str:
    """The grouping key of a manufacturer or model name: case and spacing do not split a type."""
    return " ".join(text.lower().split())


async def consume(conn: asyncpg.Connection, *, cursor: str = CURSOR, limit: int = 500) -> Batch | None:
    """Read committed events after the cursor, write their facts and rollups, save the cursor.

    Runs in the caller's transaction; None when another worker holds the cursor right now.
    """
    after = await consumers.read_position(conn, CURSOR_TABLE, cursor, skip_locked=True)
    if after is None:
        return None
    bound = await consumers.committed_bound(conn, after)
    rows = await conn.fetch(
        """SELECT position, event_id, channel, event_type, payload, occurred_at FROM outbox_events
           WHERE position > $1 AND position <= $2
             AND ((event_type = ANY($3::text[]) AND channel = ANY($4::text[]))
                  OR (event_type = ANY($5::text[]) AND channel LIKE 'verification:%')
                  OR (event_type = ANY($7::text[]) AND channel = $8))
           ORDER BY position LIMIT $6""",
        after,
        bound,
        list(LISTING_EVENTS),
        # A public listing's events are on `listings`; a hidden one's reach `admin` (policy.targets).
        [channels.listings_feed(), channels.admin()],
        list(VERIFICATION_EVENTS),
        limit,
        list(DEAL_EVENTS),
        channels.admin(),
    )
    read_to = rows[-1]["position"] if len(rows) == limit else max(bound, after)
    batch = await ingest(conn, rows)
    batch.position = read_to
    await consumers.save_position(conn, CURSOR_TABLE, cursor, read_to)
    return batch


def _payload(row: Any) -> dict[str, Any]:
    payload = row["payload"]
    return msgspec.json.decode(payload) if isinstance(payload, str | bytes) else dict(payload)


async def ingest(conn: asyncpg.Connection, rows: Sequence[Any]) -> Batch:
    """Facts from outbox rows (duplicates by event id ignored, here and against earlier runs)."""
    seen: set[uuid.UUID] = set()
    events: list[tuple[Any, dict[str, Any]]] = []
    cases: list[uuid.UUID] = []
    deals: list[uuid.UUID] = []
    for row in rows:
        if row["event_id"] in seen:
            continue
        seen.add(row["event_id"])
        data = _payload(row)
        if row["event_type"] in VERIFICATION_EVENTS:
            cases.append(uuid.UUID(data["verificationId"]))
        elif row["event_type"] in DEAL_EVENTS:
            deals.append(uuid.UUID(data["dealId"]))
        elif data.get("listingId"):
            events.append((row, data))
    batch = Batch(events=len(seen), verification_cases=cases, deals=deals)
    if not events:
        return batch
    ids = list({uuid.UUID(data["listingId"]) for _, data in events})
    listings = {
        r["id"]: r
        for r in await conn.fetch(
            """SELECT id, seller, manufacturer, model, year_manufactured, hours_total, price, currency, status
               FROM listings WHERE id = ANY($1::uuid[])""",
            ids,
        )
    }
    facts: list[Fact] = []
    for row, data in events:
        listing = listings.get(uuid.UUID(data["listingId"]))
        if listing is None:
            continue
        fact = fact_of(row["event_id"], row["event_type"], data, listing, row["occurred_at"])
        if fact is not None:
            facts.append(fact)
        if row["event_type"] == "listing.price_changed":
            batch.price_changes.append(
                {**data, "status": listing["status"], "occurredAt": row["occurred_at"]}
            )
    batch.listings = ids
    touched = await write_facts(conn, facts)
    batch.facts = len(touched)
    batch.rollups = await recompute_rollups(conn, touched)
    return batch


def fact_of(
    event_id, event_type: str, data: dict[str, Any], listing: Any, occurred_at: datetime
) -> Fact | None:
    """The market fact an event states about `listing` (its current row), or None when it states none."""

    def fact(kind: str, price=None, currency=None, status=None) -> Fact:
        return Fact(
            event_id=event_id,
            listing_id=listing["id"],
            kind=kind,
            manufacturer=listing["manufacturer"],
            model=listing["model"],
            year=listing["year_manufactured"],
            hours=listing["hours_total"],
            price=price,
            currency=currency,
            status=status or listing["status"],
            seller_id=listing["seller"],
            occurred_at=occurred_at,
        )

    if event_type == "listing.created":
        snapshot = data.get("listing") or {}
        status = snapshot.get("status", listing["status"])
        if status not in ON_MARKET:
            return None  # a draft is not on the market
        return fact("listed", Decimal(snapshot["price"]), snapshot["currency"], status)
    if event_type == "listing.price_changed":
        if listing["status"] not in ON_MARKET or not policy.is_public(listing["status"]):
            return None  # repricing a draft, or a sold aircraft, says nothing about the market
        return fact("repriced", Decimal(data["newPrice"]), data["currency"])
    if event_type == "listing.status_changed":
        before, after = data.get("previousStatus"), data.get("status")
        if after == "sold":
            return fact("sold", listing["price"], listing["currency"], after)
        if after in ON_MARKET and before not in ON_MARKET:
            return fact("listed", listing["price"], listing["currency"], after)
        if before in ON_MARKET and after not in ON_MARKET:
            return fact("delisted", status=after)
    return None


async def write_facts(conn: asyncpg.Connection, facts: Iterable[Fact]) -> list[tuple[str, str, datetime]]:
    """Insert facts (price in USD by the rate of their day); the (type, time) of each one that was new."""
    facts = list(facts)
    if not facts:
        return []
    rows = await conn.fetch(
        """INSERT INTO market_events (event_id, listing_id, kind, manufacturer, model, maker_key, model_key,
               year, hours, price, currency, price_usd, status, seller_id, occurred_at)
           SELECT e.event_id, e.listing_id, e.kind, e.manufacturer, e.model, e.maker_key, e.model_key, e.year,
                  e.hours, e.price, e.currency,
                  CASE WHEN e.price IS NULL THEN NULL
                       ELSE analytics_to_usd(e.price, e.currency, (e.occurred_at AT TIME ZONE 'UTC')::date) END,
                  e.status, e.seller_id, e.occurred_at
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::int[], $9::int[], $10::numeric[], $11::text[], $12::text[], $13::uuid[],
                       $14::timestamptz[])
                AS e(event_id, listing_id, kind, manufacturer, model, maker_key, model_key, year, hours, price,
                     currency, status, seller_id, occurred_at)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING maker_key, model_key, occurred_at""",
        [f.event_id for f in facts],
        [f.listing_id for f in facts],
        [f.kind for f in facts],
        [f.manufacturer for f in facts],
        [f.model for f in facts],
        [type_key(f.manufacturer) for f in facts],
        [type_key(f.model) for f in facts],
        [f.year for f in facts],
        [f.hours for f in facts],
        [f.price for f in facts],
        [f.currency for f in facts],
        [f.status for f in facts],
        [f.seller_id for f in facts],
        [f.occurred_at for f in facts],
    )
    return [(r["maker_key"], r["model_key"], r["occurred_at"]) for r in rows]


MARKET = "*"  # maker_key and model_key of the whole market's rollups (year 0)

_COLUMNS = """maker_key, model_key, year, interval, period, manufacturer, model, listings, sales,
    min_usd, max_usd, median_usd, p25_usd, p75_usd, prices, updated_at"""
_STATS = """count(*), count(*) FILTER (WHERE kind = 'sold'), min(price_usd), max(price_usd),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY price_usd)::numeric(16, 2),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY price_usd)::numeric(16, 2),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY price_usd)::numeric(16, 2),
       array_agg(price_usd ORDER BY price_usd), now()"""


def _rollup_sql(interval: str, touched: str, *, market: bool = False) -> tuple[str, str]:
    """(DELETE, INSERT) of the rollups of the touched (type, period) pairs, or with `market` of the whole
    market's touched periods. Two statements, so the INSERT sees the DELETE and never meets its rows."""
    step = INTERVALS[interval]
    same_type = "" if market else "e.maker_key = t.maker_key AND e.model_key = t.model_key AND"
    key = f"'{MARKET}' AS maker_key, '{MARKET}' AS model_key" if market else "t.maker_key, t.model_key"
    obs = f"""
WITH touched AS ({touched}),
obs AS (
    SELECT DISTINCT ON (e.listing_id, t.period)
           {"" if market else "e.maker_key, e.model_key,"} e.year, t.period, e.kind, e.price_usd,
           e.manufacturer, e.model
    FROM touched t JOIN market_events e
      ON {same_type} e.occurred_at >= (t.period::timestamp AT TIME ZONE 'UTC')
     AND e.occurred_at < ((t.period + interval '{step}')::timestamp AT TIME ZONE 'UTC')
    WHERE e.kind IN ('listed', 'repriced', 'sold')
    ORDER BY e.listing_id, t.period, e.occurred_at DESC, e.event_id DESC
),
priced AS (SELECT * FROM obs WHERE price_usd IS NOT NULL)"""
    delete = f"""
WITH touched AS ({touched}), keys AS (SELECT DISTINCT {key}, t.period FROM touched t)
DELETE FROM market_rollups r USING keys k
WHERE r.maker_key = k.maker_key AND r.model_key = k.model_key AND r.interval = '{interval}' AND r.period = k.period
"""
    if market:
        insert = f"""{obs}
INSERT INTO market_rollups ({_COLUMNS})
SELECT '{MARKET}', '{MARKET}', 0, '{interval}', period, '', '', {_STATS}
FROM priced GROUP BY period"""
    else:
        insert = f"""{obs}
INSERT INTO market_rollups ({_COLUMNS})
SELECT maker_key, model_key, coalesce(year, 0), '{interval}', period, max(manufacturer), max(model), {_STATS}
FROM priced
GROUP BY GROUPING SETS ((maker_key, model_key, year, period), (maker_key, model_key, period))"""
    return delete, insert


def period_start(interval: str, column: str = "occurred_at") -> str:
    """SQL for the UTC start date of the period of `column`."""
    return f"date_trunc('{interval}', {column} AT TIME ZONE 'UTC')::date"


async def _run(conn: asyncpg.Connection, statements: tuple[str, str], *args: Any) -> int:
    delete, insert = statements
    await conn.execute(delete, *args)
    return int((await conn.execute(insert, *args)).split()[-1])


async def recompute_rollups(conn: asyncpg.Connection, touched: Sequence[tuple[str, str, datetime]]) -> int:
    """Recompute the rollups of every (type, period) in `touched` and the whole market's periods, months
    and quarters; rows written."""
    if not touched:
        return 0
    args = ([k[0] for k in touched], [k[1] for k in touched], [k[2] for k in touched])
    written = 0
    for interval in INTERVALS:
        keys = f"""SELECT DISTINCT maker_key, model_key, {period_start(interval, "at")} AS period
                   FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(maker_key, model_key, at)"""
        written += await _run(conn, _rollup_sql(interval, keys), *args)
        periods = f"""SELECT DISTINCT {period_start(interval, "at")} AS period
                      FROM unnest($3::timestamptz[]) AS k(at) WHERE $1::text[] IS NOT NULL AND $2::text[] IS NOT NULL"""
        written += await _run(conn, _rollup_sql(interval, periods, market=True), *args)
    return written


async def rebuild_rollups(conn: asyncpg.Connection) -> int:
    """Every rollup from every market event (after a rates import, or to repair)."""
    await conn.execute("DELETE FROM market_rollups")
    written = 0
    for interval in INTERVALS:
        keys = f"SELECT DISTINCT maker_key, model_key, {period_start(interval)} AS period FROM market_events"
        written += await _run(conn, _rollup_sql(interval, keys))
        periods = f"SELECT DISTINCT {period_start(interval)} AS period FROM market_events"
        written += await _run(conn, _rollup_sql(interval, periods, market=True))
    return written


async def reprice_events(conn: asyncpg.Connection) -> int:
    """Recompute every fact's USD price with the current rates table; how many changed."""
    status = await conn.execute(
        """UPDATE market_events
           SET price_usd = analytics_to_usd(price, currency, (occurred_at AT TIME ZONE 'UTC')::date)
           WHERE price IS NOT NULL
             AND price_usd IS DISTINCT FROM
                 analytics_to_usd(price, currency, (occurred_at AT TIME ZONE 'UTC')::date)"""
    )
    return int(status.split()[-1])


async def backfill(conn: asyncpg.Connection) -> int:
    """Facts for listings that predate the consumer (bulk-loaded catalogues): their opening price, each
    repricing from the price history and the sale. Ids are derived from the source rows, so a rerun adds
    nothing twice; the rollups are rebuilt afterwards."""
    status = await conn.execute(
        """
        WITH hist AS (
            SELECT h.id, h.listing, h.new_price, h.currency, h.changed_at,
                   row_number() OVER (PARTITION BY h.listing ORDER BY h.changed_at, h.id) AS n
            FROM listing_price_history h
        ),
        facts AS (
            SELECT md5(l.id::text || ':h' || hist.id::text)::uuid AS event_id, l.id AS listing_id,
                   CASE WHEN hist.n = 1 THEN 'listed' ELSE 'repriced' END AS kind,
                   hist.new_price AS price, hist.currency AS currency, hist.changed_at AS occurred_at,
                   l.manufacturer, l.model, l.year_manufactured, l.hours_total, l.status, l.seller
            FROM listings l JOIN hist ON hist.listing = l.id
            WHERE l.status IN ('active', 'on_hold', 'under_contract', 'sold', 'expired')
            UNION ALL
            SELECT md5(l.id::text || ':sold')::uuid, l.id, 'sold', l.price, l.currency, l.updated_at,
                   l.manufacturer, l.model, l.year_manufactured, l.hours_total, l.status, l.seller
            FROM listings l WHERE l.status = 'sold'
        )
        INSERT INTO market_events (event_id, listing_id, kind, manufacturer, model, maker_key, model_key, year,
            hours, price, currency, price_usd, status, seller_id, occurred_at)
        SELECT event_id, listing_id, kind, manufacturer, model,
               array_to_string(regexp_split_to_array(lower(trim(manufacturer)), '\\s+'), ' '),
               array_to_string(regexp_split_to_array(lower(trim(model)), '\\s+'), ' '),
               year_manufactured, hours_total, price, currency,
               analytics_to_usd(price, currency, (occurred_at AT TIME ZONE 'UTC')::date), status, seller,
               occurred_at
        FROM facts
        ON CONFLICT (event_id) DO NOTHING
        """
    )
    added = int(status.split()[-1])
    if added:
        await rebuild_rollups(conn)
    return added

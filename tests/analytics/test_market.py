"""Market events and rollups: a randomized stream (replays included) against a direct aggregate; the
prices endpoint; the ECB rates file."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import msgspec
import pytest

from tests.reservations.conftest import listing_body

SAMPLE_RATES = Path(__file__).parents[2] / "data" / "samples" / "ecb" / "eurofxref-hist.csv"


def _quantile(values: list[Decimal], q: float) -> Decimal:
    """percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(float(v) for v in values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
    return Decimal(repr(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _period(at: datetime, interval: str) -> date:
    if interval == "month":
        return date(at.year, at.month, 1)
    return date(at.year, 3 * ((at.month - 1) // 3) + 1, 1)


async def _direct_aggregate(conn, maker_key: str) -> dict:
    """The rollups recomputed in Python straight from market_events."""
    rows = await conn.fetch(
        "SELECT * FROM market_events WHERE maker_key = $1 AND kind IN ('listed', 'repriced', 'sold')",
        maker_key,
    )
    expected = {}
    for interval in ("month", "quarter"):
        last: dict = {}
        for r in rows:
            key = (r["listing_id"], _period(r["occurred_at"].astimezone(UTC), interval))
            if key not in last or (r["occurred_at"], r["event_id"]) > (
                last[key]["occurred_at"],
                last[key]["event_id"],
            ):
                last[key] = r
        groups = defaultdict(list)
        for (_, period), r in last.items():
            groups[(r["model_key"], r["year"], period)].append(r)
            groups[(r["model_key"], 0, period)].append(r)
        for (model_key, year, period), obs in groups.items():
            prices = [o["price_usd"] for o in obs]
            expected[(model_key, year, interval, period)] = (
                len(obs),
                sum(1 for o in obs if o["kind"] == "sold"),
                min(prices),
                max(prices),
                _quantile(prices, 0.5),
                _quantile(prices, 0.25),
                _quantile(prices, 0.75),
            )
    return expected


async def test_rollups_equal_a_direct_aggregate_after_a_random_stream_with_replays(client):
    from app.analytics import market
    from app.core.db import UnitOfWork

    rng = random.Random(15)
    maker = f"Testmaker {uuid.uuid4().hex[:6]}"
    maker_key = market.type_key(maker)
    models = ["Alpha One", "Beta Two"]
    listings = {}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with UnitOfWork() as uow:
        seller = await uow.conn.fetchval(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, phone, status,"
            " user_type, verification_level, totp_enabled, totp_last_step, created_at, updated_at)"
            " VALUES (gen_random_uuid(), $1, 'x', '', '', '', '', 'active', 'seller', 1, false, 0, now(), now())"
            " RETURNING id",
            f"{uuid.uuid4()}@market.test",
        )
        for i in range(12):
            row = await uow.conn.fetchrow(
                """INSERT INTO listings (id, seller, manufacturer, model, year_manufactured, tail_number, hours_total,
                       price, currency, location_country, location_city, status, specifications, images)
                   VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 1000, 100000, 'USD', 'US', 'X', 'active', '{}',
                       '[]') RETURNING *""",
                seller,
                maker,
                rng.choice(models),
                rng.choice([2001, 2002, 2005]),
                f"NT{i}{uuid.uuid4().hex[:3]}",
            )
            listings[row["id"]] = row

    # A stream of outbox-shaped rows: creates, reprices, sales and withdrawals, out of listing order,
    # with a share of them delivered twice (in the same batch and in a later one).
    stream = []
    for listing_id in listings:
        at = start + timedelta(days=rng.randrange(0, 200))
        stream.append(
            (
                "listing.created",
                listing_id,
                at,
                {"listing": {"status": "active", "price": "100000.00", "currency": "USD"}},
            )
        )
        for _ in range(rng.randrange(0, 4)):
            at += timedelta(days=rng.randrange(1, 60))
            price = f"{rng.randrange(50_000, 200_000)}.00"
            stream.append(
                (
                    "listing.price_changed",
                    listing_id,
                    at,
                    {"newPrice": price, "oldPrice": "1.00", "currency": "USD", "version": 2},
                )
            )
        end = rng.choice(["sold", "withdrawn", None])
        if end:
            at += timedelta(days=rng.randrange(1, 60))
            stream.append(
                (
                    "listing.status_changed",
                    listing_id,
                    at,
                    {"previousStatus": "active", "status": end, "version": 3},
                )
            )
    rows = []
    for event_type, listing_id, at, data in stream:
        payload = msgspec.json.encode({"listingId": str(listing_id), **data}).decode()
        rows.append(
            {"event_id": uuid.uuid4(), "event_type": event_type, "payload": payload, "occurred_at": at}
        )
    rng.shuffle(rows)
    replays = rng.sample(rows, len(rows) // 3)
    batches = [rows[: len(rows) // 2] + replays[:3], rows[len(rows) // 2 :], replays]
    for batch in batches:
        async with UnitOfWork() as uow:
            await market.ingest(uow.conn, batch)

    async with UnitOfWork() as uow:
        facts = await uow.conn.fetchval("SELECT count(*) FROM market_events WHERE maker_key = $1", maker_key)
        expected = await _direct_aggregate(uow.conn, maker_key)
        actual = {
            (r["model_key"], r["year"], r["interval"], r["period"]): (
                r["listings"],
                r["sales"],
                r["min_usd"],
                r["max_usd"],
                r["median_usd"],
                r["p25_usd"],
                r["p75_usd"],
            )
            for r in await uow.conn.fetch("SELECT * FROM market_rollups WHERE maker_key = $1", maker_key)
        }
    assert facts == len(stream)  # every event once, however often it was delivered
    async with UnitOfWork() as uow:  # the whole market's rows, for the periods this stream touched
        for period in sorted({_period(at, "month") for _, _, at, _ in stream})[:4]:
            rows = await uow.conn.fetch(
                """SELECT DISTINCT ON (listing_id) kind, price_usd FROM market_events
                   WHERE kind IN ('listed', 'repriced', 'sold') AND price_usd IS NOT NULL
                     AND occurred_at >= $1::date::timestamp AT TIME ZONE 'UTC'
                     AND occurred_at < ($1::date + interval '1 month')::timestamp AT TIME ZONE 'UTC'
                   ORDER BY listing_id, occurred_at DESC, event_id DESC""",
                period,
            )
            whole = await uow.conn.fetchrow(
                "SELECT * FROM market_rollups WHERE maker_key = '*' AND interval = 'month' AND period = $1",
                period,
            )
            assert (whole["listings"], whole["sales"], whole["median_usd"]) == (
                len(rows),
                sum(1 for r in rows if r["kind"] == "sold"),
                _quantile([r["price_usd"] for r in rows], 0.5),
            )
    assert actual == expected
    assert any(v[1] for v in actual.values())  # sales were counted


async def test_the_consumer_reads_the_outbox_and_prices_answer_from_rollups(client, people):
    from app.analytics import market
    from app.core.db import UnitOfWork

    seller = await people.create("seller", level=1)
    model = f"Rollup {uuid.uuid4().hex[:6]}"
    created = []
    for price in ("100000.00", "200000.00", "300000.00"):
        body = {**listing_body(), "manufacturer": "Cirrus", "model": model, "price": price}
        response = await client.post("/api/listings", json=body, headers=seller["headers"])
        assert response.status_code == 201, response.text
        created.append(response.json())
    draft = {**listing_body(), "manufacturer": "Cirrus", "model": model, "price": "1.00"}
    assert (
        await client.post("/api/listings?draft=true", json=draft, headers=seller["headers"])
    ).status_code == 201
    response = await client.patch(
        f"/api/listings/{created[0]['id']}", json={"price": "150000.00"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    response = await client.patch(
        f"/api/listings/{created[2]['id']}", json={"status": "sold"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text

    for _ in range(20):
        async with UnitOfWork() as uow:
            batch = await market.consume(uow.conn)
        if batch is not None and batch.events == 0:
            break

    response = await client.get(
        "/api/analytics/prices", params={"manufacturer": "cirrus", "model": model.upper()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["currency"] == "USD"
    [period] = body["series"]
    assert period["listings"] == 3 and period["sales"] == 1  # the draft is not market data
    assert (period["min"], period["median"], period["max"]) == ("150000.00", "200000.00", "300000.00")
    year = created[0]["yearManufactured"]
    ranged = await client.get(
        "/api/analytics/prices",
        params={
            "manufacturer": "Cirrus",
            "model": model,
            "yearMin": year,
            "yearMax": year,
            "interval": "quarter",
        },
    )
    assert ranged.status_code == 200
    assert ranged.json()["series"][0]["median"] == "200000.00"

    bad = await client.get("/api/analytics/prices", params={"yearMin": 2010, "yearMax": 2000})
    assert bad.status_code == 422
    assert (await client.get("/api/analytics/prices", params={"interval": "week"})).status_code in (400, 422)


async def test_ecb_rates_import_and_conversion(client):
    from app.analytics import rates
    from app.core.db import UnitOfWork

    parsed = rates.parse_ecb_csv(SAMPLE_RATES.read_text())
    assert ("USD", date(2026, 12, 3), Decimal("1.0870")) in parsed
    assert not any(c == "CYP" for c, _, _ in parsed)  # N/A values are skipped
    daily = "Date, USD, JPY, GBP, \n04 December 2026, 1.0900, 163.50, 0.8600, \n"
    assert rates.parse_ecb_csv(daily) == [
        ("USD", date(2026, 12, 4), Decimal("1.0900")),
        ("JPY", date(2026, 12, 4), Decimal("163.50")),
        ("GBP", date(2026, 12, 4), Decimal("0.8600")),
    ]
    with pytest.raises(rates.RatesFileInvalid):
        rates.parse_ecb_csv("nope,1\n")
    async with UnitOfWork() as uow:
        counts = await rates.import_rates(uow.conn, SAMPLE_RATES)
        assert counts["fx_rates"] == len(parsed)
        per_eur = await rates.latest_per_eur(uow.conn, ["USD", "GBP"])
        usd = await uow.conn.fetchval("SELECT analytics_to_usd(1000, 'EUR', '2026-12-03')")
    assert usd == Decimal("1087.00")
    assert rates.convert(Decimal("1087.00"), "USD", "EUR", per_eur) == Decimal("1000.00")
    assert rates.convert(Decimal("5"), "USD", "XXX", per_eur) is None
    response = await client.get("/api/analytics/prices", params={"currency": "GBP"})
    assert response.status_code == 200 and response.json()["currency"] == "GBP"
    assert (await client.get("/api/analytics/prices", params={"currency": "XXX"})).status_code == 422


async def test_backfill_turns_bulk_loaded_listings_into_facts_once(client):
    from app.analytics import market
    from app.core.db import UnitOfWork
    from db.fixtures.catalogue import generate_listings
    from db.fixtures.listings import insert_listings

    async with UnitOfWork() as uow:
        seller = await uow.conn.fetchval(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, phone, status,"
            " user_type, verification_level, totp_enabled, totp_last_step, created_at, updated_at)"
            " VALUES (gen_random_uuid(), $1, 'x', '', '', '', '', 'active', 'seller', 1, false, 0, now(), now())"
            " RETURNING id",
            f"{uuid.uuid4()}@backfill.test",
        )
        await insert_listings(uow.conn, generate_listings(200, [seller], seed=99))
        expected = await uow.conn.fetchval(
            "SELECT count(*) + count(*) FILTER (WHERE status = 'sold') FROM listings"
            " WHERE seller = $1 AND status <> 'draft'",
            seller,
        )
        added = await market.backfill(uow.conn)
        again = await market.backfill(uow.conn)
        facts = await uow.conn.fetchval("SELECT count(*) FROM market_events WHERE seller_id = $1", seller)
        sold = await uow.conn.fetchval(
            "SELECT count(*) FROM market_events WHERE seller_id = $1 AND kind = 'sold'", seller
        )
    assert facts == expected and added >= expected and again == 0
    assert sold > 0

"""listing_search, the narrow copy search reads, follows every write to listings in the same transaction."""

from __future__ import annotations

import uuid

import pytest

from tests.search.conftest import _row, insert_rows

# Every column listing_search copies, as listings spells it.
_SAME = """
    l.seller, l.status, l.manufacturer, l.model, lower(l.manufacturer), lower(l.model),
    l.year_manufactured, l.hours_total, l.price, l.location_country, l.specifications ->> 'engineType',
    (l.specifications ->> 'maxPassengers')::int, (l.specifications ->> 'maxRangeNm')::int,
    (l.specifications ->> 'latitude')::float8, (l.specifications ->> 'longitude')::float8, l.created_at,
    l.search_document, l.search_name
"""
_COPY = """
    s.seller, s.status, s.manufacturer, s.model, s.maker_key, s.model_key,
    s.year_manufactured, s.hours_total, s.price, s.location_country, s.engine_type,
    s.max_passengers, s.max_range_nm,
    s.latitude, s.longitude, s.created_at,
    s.search_document, s.search_name
"""


async def _out_of_step() -> int:
    from app.core import db

    rows = await db.fetch(
        f"SELECT count(*) FROM listings l FULL JOIN listing_search s ON s.id = l.id "
        f"WHERE l.id IS NULL OR s.id IS NULL OR ({_SAME}) IS DISTINCT FROM ({_COPY})"
    )
    return rows[0][0]


async def test_copy_follows_insert_update_delete(accounts, catalogue):
    from app.core.db import UnitOfWork
    from db.fixtures.catalogue import MODELS

    seller = await accounts.create("seller", level=1)
    row = _row(MODELS[3], 0, 0)
    await insert_rows(seller["id"], [row])
    listing_id = uuid.UUID(row["id"])
    assert await _out_of_step() == 0

    async with UnitOfWork() as uow:
        await uow.conn.execute(
            """UPDATE listings SET price = price + 1, status = 'sold', model = 'Renamed',
               specifications = specifications || '{"engineType": "jet", "latitude": 1.5}' WHERE id = $1""",
            listing_id,
        )
    assert await _out_of_step() == 0

    async with UnitOfWork() as uow:
        await uow.conn.execute("DELETE FROM listings WHERE id = $1", listing_id)
    assert await _out_of_step() == 0


async def test_a_rolled_back_write_leaves_no_trace(accounts, catalogue):
    from app.core.db import UnitOfWork
    from db.fixtures.catalogue import MODELS

    seller = await accounts.create("seller", level=1)
    row = _row(MODELS[5], 0, 0)
    try:
        async with UnitOfWork() as uow:
            await uow.conn.execute(
                "INSERT INTO listings (id, seller, manufacturer, model, year_manufactured, tail_number, "
                "hours_total, price, location_country, location_city) "
                "VALUES ($1, $2, 'Cessna', '172 Skyhawk', 2001, $3, 10, 1000, 'US', 'Wichita')",
                uuid.UUID(row["id"]),
                uuid.UUID(seller["id"]),
                row["tail"],
            )
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert await _out_of_step() == 0


@pytest.mark.parametrize("q", ["cessna 172", "gulfstream", "g1000", "king air under 5m"])
async def test_narrow_parts_are_parts_of_the_whole_match(catalogue, q):
    # The parts listing_search counts alone (every match but description-only ones; the named
    # models) must never count a listing the whole search on listings does not match.
    from app.core import db
    from app.search.backends.postgres_sql import LISTING_SEARCH, catalogue_weight, compile_search
    from app.search.normalize import parse
    from app.search.schemas import SearchQuery

    query = SearchQuery(q=q, statuses=("active",), sort="relevance", seller_id=uuid.UUID(catalogue.seller_id))
    whole = compile_search(query)
    matched = {r[0] for r in await db.fetch(f"SELECT id FROM listings WHERE {whole.where}", *whole.args)}
    assert matched
    for tier in ["indexed"] + (["catalogue"] if catalogue_weight(parse(q)) is not None else []):
        part = compile_search(query, table=LISTING_SEARCH, tier=tier)
        found = {
            r[0] for r in await db.fetch(f"SELECT id FROM listing_search WHERE {part.where}", *part.args)
        }
        assert found and found <= matched, tier


async def test_pages_by_parts_keep_the_order_of_one_ranking(client, accounts):
    # Relevance pages are read part by part (named models with the extra words, named models
    # without them, every other match); stitched page by page they must list exactly what one
    # ORDER BY over all the matches on listings lists.
    from app.core import db
    from app.search.backends.postgres_sql import compile_search
    from app.search.schemas import SearchQuery
    from db.fixtures.catalogue import MODELS

    seller = await accounts.create("seller", level=1)
    skyhawk = next(m for m in MODELS if m.model == "172 Skyhawk")
    others = [m for m in MODELS if m.manufacturer != "Cessna"][:2]
    rows = [_row(skyhawk, n % 2, i) for i, n in enumerate(range(5))]
    for i, model in enumerate(others):
        row = _row(model, 0, 10 + i)
        # Found by its description only: the rest of the matches, after every named model.
        row["description"] += " Faster than a Cessna 172 with its G1000."
        rows.append(row)
    for row in rows[:2]:
        row["specs"]["avionics"] = ["Garmin G1000 NXi"]
    for row in rows[2:5]:
        row["specs"]["avionics"] = ["Garmin G5"]
    await insert_rows(seller["id"], rows)

    for q in ("cessna 172", "cessna 172 g1000", "cessna g1000", "skyhawk g1000"):
        reference = SearchQuery(
            q=q, statuses=("active",), sort="relevance", seller_id=uuid.UUID(seller["id"]), limit=100
        )
        plan = compile_search(reference)
        expected = [str(r["id"]) for r in await db.fetch(plan.page_sql, *plan.page_args)]
        assert len(expected) >= 5, q
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            params = {"q": q, "limit": 2, "sellerId": seller["id"], **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/api/search", params=params)).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert seen == expected, q

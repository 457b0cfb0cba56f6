"""GET /api/search on the PostgreSQL backend: relevance table, filters, facets, pages, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.search.cases import CASES


async def search(client, catalogue, **params) -> dict:
    params.setdefault("sellerId", catalogue.seller_id)
    response = await client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_problem(response, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("q", "params", "expected"), CASES, ids=[c[0] + str(c[1] or "") for c in CASES])
async def test_relevance(client, catalogue, q, params, expected):
    body = await search(client, catalogue, q=q, limit=20, **params)
    models = [item["model"] for item in body["items"]]
    assert models, f"{q!r} found nothing"
    assert models[0] in expected, f"{q!r} → {models[:8]}"
    hits = [i for i, model in enumerate(models) if model in expected]
    # Expected models fill the top: no other listing ranks above any of them.
    assert hits == list(range(len(hits))), f"{q!r} → {models[:8]}"


async def test_price_phrase_becomes_a_filter(client, catalogue):
    body = await search(client, catalogue, q="king air 350 under 3m")
    assert body["items"]
    assert all(Decimal(item["price"]) <= 3_000_000 for item in body["items"])


async def test_words_beyond_the_model_rank_first(client, catalogue):
    body = await search(client, catalogue, q="cessna 172 g1000 nxi")
    assert "G1000 NXi" in body["items"][0]["description"]


async def test_free_text_without_a_model(client, catalogue):
    body = await search(client, catalogue, q="teterboro")
    assert body["items"]
    assert all(item["locationCity"] == "Teterboro" for item in body["items"])


async def test_hidden_statuses_only_when_asked(client, catalogue):
    body = await search(client, catalogue, q="cessna 172", limit=100)
    assert {item["status"] for item in body["items"]} == {"active"}
    sold = await search(client, catalogue, q="cessna 172", status="sold")
    assert [item["status"] for item in sold["items"]] == ["sold"]
    # Drafts, suspended and withdrawn listings stay private to their seller and admins
    # (app/listings/policy.py: the same rule as REST reads and events).
    for status in ("draft", "suspended", "withdrawn"):
        hidden = await search(client, catalogue, q="cessna 172", status=status)
        assert hidden["items"] == []


async def test_filters(client, catalogue):
    body = await search(
        client,
        catalogue,
        engineType="jet",
        yearMin=2015,
        priceMax="20000000",
        seatsMin=8,
        rangeMin=2000,
        limit=100,
    )
    assert body["items"]
    for item in body["items"]:
        specs = item["specifications"]
        assert specs["engineType"] == "jet"
        assert item["yearManufactured"] >= 2015
        assert Decimal(item["price"]) <= 20_000_000
        assert specs["maxPassengers"] >= 8 and specs["maxRangeNm"] >= 2000
    assert body["estimatedTotal"] == len(body["items"])


async def test_manufacturer_model_country_hours(client, catalogue):
    body = await search(client, catalogue, manufacturer="cessna", country="us", hoursMax=100, limit=100)
    assert body["items"]
    for item in body["items"]:
        assert item["manufacturer"] == "Cessna" and item["locationCountry"] == "US"
        assert item["hoursTotal"] <= 100
    model = await search(client, catalogue, model="pc-12 ngx")
    assert {item["model"] for item in model["items"]} == {"PC-12 NGX"}


async def test_near_radius(client, catalogue):
    # Teterboro, NJ: 300 km takes in nothing but Teterboro among the catalogue's cities.
    body = await search(client, catalogue, near="40.85,-74.06", radiusKm=300, limit=100)
    assert body["items"]
    assert {item["locationCity"] for item in body["items"]} == {"Teterboro"}


@pytest.mark.parametrize("sort", ["price_asc", "price_desc", "year_desc", "hours_asc", "newest", "relevance"])
async def test_pages_cover_everything_once_in_order(client, catalogue, sort):
    q = "cessna" if sort == "relevance" else ""
    seen: list[dict] = []
    cursor = None
    for _ in range(50):
        params = {"q": q, "sort": sort, "limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = await search(client, catalogue, **params)
        seen.extend(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids))
    full = await search(client, catalogue, q=q, sort=sort, limit=100)
    assert ids[:100] == [item["id"] for item in full["items"]]
    key = {
        "price_asc": lambda i: Decimal(i["price"]),
        "price_desc": lambda i: -Decimal(i["price"]),
        "year_desc": lambda i: -i["yearManufactured"],
        "hours_asc": lambda i: i["hoursTotal"],
    }.get(sort)
    if key:
        assert [key(i) for i in seen] == sorted(key(i) for i in seen)


@pytest.mark.parametrize("q", ["cessna 172 g1000", "pc12", "king air", "cessna g1000"])
async def test_relevance_pages_cover_everything_once_in_order(client, catalogue, q):
    # Best matches come part by part (ranked models, the other named models, the rest): a cursor
    # must cross from one part to the next without skipping or repeating anything.
    seen: list[dict] = []
    cursor = None
    for _ in range(100):
        params = {"q": q, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = await search(client, catalogue, **params)
        seen.extend(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    full = await search(client, catalogue, q=q, limit=100)
    assert [item["id"] for item in seen] == [item["id"] for item in full["items"]]
    assert len(seen) == full["estimatedTotal"]


async def test_facets(client, catalogue):
    body = await search(client, catalogue, q="cessna", facets="manufacturer,model,year,country,engineType")
    facets = body["facets"]
    assert set(facets) == {"manufacturer", "model", "year", "country", "engineType"}
    assert facets["manufacturer"] == {"Cessna": body["estimatedTotal"]}
    assert facets["model"]["172 Skyhawk"] == 2
    assert sum(facets["engineType"].values()) == body["estimatedTotal"]


async def test_category_facet_counts_what_the_category_filter_finds(client, catalogue):
    # The search home browses by kind of aircraft: each count must be what a click on it shows.
    facets = (await search(client, catalogue, facets="category"))["facets"]["category"]
    assert set(facets) == {
        "piston_single", "piston_twin", "turboprop", "helicopter",
        "light_jet", "midsize_jet", "super_midsize_jet", "large_jet",
    }  # fmt: skip
    for category, count in facets.items():
        assert (await search(client, catalogue, category=category, limit=1))["estimatedTotal"] == count
    jets = sum(n for name, n in facets.items() if name.endswith("_jet"))
    assert (await search(client, catalogue, category="jet", limit=1))["estimatedTotal"] == jets
    # With a filter the counts narrow with it; the catalogue's unknown Zlin is in no category.
    narrowed = (await search(client, catalogue, q="cessna", facets="category"))["facets"]["category"]
    assert "helicopter" not in narrowed and narrowed["piston_single"] >= 2


@pytest.mark.parametrize(
    "params",
    [
        {"yearMin": "1800"},
        {"yearMin": "2020", "yearMax": "2010"},
        {"priceMin": "-5"},
        {"priceMax": "1e9"},
        {"priceMin": "500", "priceMax": "100"},
        {"sort": "cheapest"},
        {"facets": "color"},
        {"near": "40.8,-74.0"},
        {"radiusKm": "50"},
        {"near": "95,10", "radiusKm": "50"},
        {"near": "abc", "radiusKm": "50"},
        {"radiusKm": "0", "near": "1,1"},
        {"limit": "0"},
        {"limit": "101"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0"},
        {"engineType": "steam"},
        {"status": "lost"},
        {"country": "USA"},
        {"sellerId": "nope"},
        {"q": "x" * 201},
    ],
)
async def test_bad_input_is_422(client, params):
    response = await client.get("/api/search", params=params)
    assert_problem(response)


async def test_relevance_cursor_from_another_sort_is_rejected(client, catalogue):
    body = await search(client, catalogue, sort="newest", limit=1)
    response = await client.get(
        "/api/search", params={"q": "cessna", "sort": "relevance", "cursor": body["nextCursor"]}
    )
    assert_problem(response)


async def test_typo_in_an_unknown_name_falls_back_to_trigrams(client, catalogue):
    body = await search(client, catalogue, q="zlim aircraft", limit=1)
    assert [item["model"] for item in body["items"]] == ["Z-242 L"]
    assert body["nextCursor"]
    second = await search(client, catalogue, q="zlim aircraft", limit=1, cursor=body["nextCursor"])
    assert [item["model"] for item in second["items"]] == ["Z-242 L"]
    assert second["items"][0]["id"] != body["items"][0]["id"]


async def test_a_known_model_nobody_lists_falls_back_without_an_error(client, catalogue):
    # "cirrus sr22" resolves to a catalogue model; a seller with no SR22 gets the trigram pass.
    response = await client.get(
        "/api/search", params={"q": "cirrus sr22", "sellerId": catalogue.seller_id, "year_min": 1900}
    )
    assert response.status_code == 200, response.text
    empty = await client.get(
        "/api/search", params={"q": "cirrus sr22", "sellerId": "00000000-0000-4000-8000-000000000000"}
    )
    assert empty.status_code == 200, empty.text
    assert empty.json()["items"] == []


@pytest.mark.parametrize(
    ("sorts", "values"),
    [
        (("relevance", "price_asc", "year_desc", "newest"), ["x", "not-a-uuid"]),
        (("relevance", "price_asc", "year_desc", "newest"), [None, None]),
        (("price_asc", "year_desc", "hours_asc", "newest"), [1e300, "00000000-0000-0000-0000-000000000000"]),
    ],
)
async def test_tampered_cursor_is_422(client, sorts, values):
    from app.core.pagination import encode_cursor

    for sort in sorts:
        params = {"q": "cessna", "sort": sort, "cursor": encode_cursor(values)}
        assert_problem(await client.get("/api/search", params=params))

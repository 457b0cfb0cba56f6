"""The demo catalogue and listings generator: pure Python, no database."""

from __future__ import annotations

import json
import re
import statistics
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from db.fixtures.catalogue import (
    CATEGORIES,
    LISTING_COLUMNS,
    LOCATIONS,
    MODELS,
    TailNumberAllocator,
    generate_listings,
    models_matching,
)

AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
SELLERS = [uuid.UUID(int=n, version=4) for n in range(1, 13)]
COLUMN = {name: position for position, name in enumerate(LISTING_COLUMNS)}
LISTING_STATUSES = {
    "draft",
    "active",
    "on_hold",
    "under_contract",
    "sold",
    "suspended",
    "expired",
    "withdrawn",
}
SPECIFICATION_KEYS = {
    "engineType",
    "engineHours",
    "avionics",
    "interiorConfiguration",
    "exteriorColor",
    "maxPassengers",
    "maxRangeNm",
    "maxSpeedKts",
    "usefulLoadLbs",
    "category",
    "latitude",
    "longitude",
}

# Written from each country's register rules, independently of the generator's own tables.
TAIL_NUMBER_FORMATS = {
    # FAA: up to five symbols after N, a non-zero digit first, at most two trailing letters, no I or O.
    "US": r"N[1-9](\d{0,4}|\d{0,3}[A-HJ-NP-Z]|\d{0,2}[A-HJ-NP-Z]{2})",
    "CA": r"C-[FG][A-Z]{3}",
    "MX": r"X[ABC]-[A-Z]{3}",
    "BR": r"P[PRST]-[A-Z]{3}",
    "AR": r"LV-[A-Z]{3}",
    "GB": r"G-[A-Z]{4}",
    "IE": r"EI-[A-Z]{3}",
    "FR": r"F-[GH][A-Z]{3}",
    "DE": r"D-[A-IKM][A-Z]{3}",
    "CH": r"HB-[A-Z]{3}",
    "IT": r"I-[A-Z]{4}",
    "ES": r"EC-[A-Z]{3}",
    "NL": r"PH-[A-Z]{3}",
    "AT": r"OE-[A-Z]{3}",
    "SE": r"SE-[A-Z]{3}",
    "PL": r"SP-[A-Z]{3}",
    "TR": r"TC-[A-Z]{3}",
    "AE": r"A6-[A-Z]{3}",
    "ZA": r"Z[STU]-[A-Z]{3}",
    "AU": r"VH-[A-Z]{3}",
    "NZ": r"ZK-[A-Z]{3}",
    "SG": r"9V-[A-Z]{3}",
    "JP": r"JA[0-9A-Z]{4}",
}


@pytest.fixture(scope="module")
def listings() -> list[tuple]:
    return list(generate_listings(100_000, SELLERS, seed=7, as_of=AS_OF))


def column(rows: list[tuple], name: str) -> list:
    return [row[COLUMN[name]] for row in rows]


def usd_prices_by(rows: list[tuple], key) -> dict:
    prices = defaultdict(list)
    for row in rows:
        if row[COLUMN["currency"]] == "USD":
            prices[key(row)].append(row[COLUMN["price"]])
    return prices


def test_columns_are_the_listings_table_columns():
    from db.listings.tables import Listing

    assert LISTING_COLUMNS == tuple(col._meta.db_column_name for col in Listing._meta.columns)


def test_catalogue_covers_the_market():
    assert len(MODELS) >= 60
    assert {model.category for model in MODELS} == set(CATEGORIES)
    names = [(model.manufacturer, model.model) for model in MODELS]
    assert len(names) == len(set(names))
    for model in MODELS:
        assert 1903 <= model.first_year <= model.last_year
        assert model.new_price_usd >= model.used_price_usd > 0, model.name
        assert model.passengers > 0 and model.range_nm > 0 and model.cruise_kts > 0, model.name
        for year in range(model.first_year, min(model.last_year, AS_OF.year) + 1):
            assert any(first <= year <= last for _, first, last in model.avionics), (model.name, year)
    assert len(LOCATIONS) >= 60
    assert set(TAIL_NUMBER_FORMATS) >= {location.country for location in LOCATIONS}
    for location in LOCATIONS:
        assert -90 <= location.latitude <= 90 and -180 <= location.longitude <= 180, location


def test_aliases_find_the_model():
    assert [m.model for m in models_matching("GVI")] == ["G650ER"]
    assert {m.model for m in models_matching("525B")} == {"Citation CJ3", "Citation CJ3+"}
    assert {m.model for m in models_matching("pc 12")} >= {"PC-12 NG", "PC-12 NGX"}
    assert [m.model for m in models_matching("skyhawk")] == ["172 Skyhawk"]
    assert models_matching("") == []


def test_rows_satisfy_the_table_constraints(listings):
    next_year = datetime.now(UTC).year + 1
    for row in listings:
        assert len(row) == len(LISTING_COLUMNS)
        record = dict(zip(LISTING_COLUMNS, row, strict=True))
        assert isinstance(record["id"], uuid.UUID)
        assert record["seller"] in SELLERS
        price = record["price"]
        assert isinstance(price, Decimal) and price > 0
        assert price.as_tuple().exponent == -2 and price < Decimal("1e12")  # numeric(14,2)
        assert 1903 <= record["year_manufactured"] <= next_year
        assert isinstance(record["hours_total"], int) and record["hours_total"] >= 0
        assert re.fullmatch(r"[A-Z]{3}", record["currency"])
        assert re.fullmatch(r"[A-Z]{2}", record["location_country"])
        assert record["status"] in LISTING_STATUSES
        assert isinstance(record["featured"], bool)
        assert record["images"] == "[]" and record["version"] == 1
        for name, length in (
            ("manufacturer", 100),
            ("model", 100),
            ("tail_number", 20),
            ("location_city", 100),
        ):
            assert 0 < len(record[name]) <= length, name
        assert record["description"]
        assert AS_OF - timedelta(days=550) <= record["created_at"] <= record["updated_at"] <= AS_OF
        assert record["created_at"].tzinfo is not None


def test_specifications_are_camel_case_json(listings):
    for row in listings[:5_000]:
        specifications = json.loads(row[COLUMN["specifications"]])
        assert set(specifications) == SPECIFICATION_KEYS
        assert specifications["category"] in CATEGORIES
        assert specifications["engineType"] in {"piston", "turboprop", "jet", "turboshaft"}
        assert 0 <= specifications["engineHours"] <= row[COLUMN["hours_total"]]
        assert specifications["avionics"] and all(
            isinstance(item, str) for item in specifications["avionics"]
        )
        assert -90 <= specifications["latitude"] <= 90 and -180 <= specifications["longitude"] <= 180


def test_tail_numbers_are_unique_across_100k(listings):
    tails = [tail.upper() for tail in column(listings, "tail_number")]
    assert len(set(tails)) == len(tails) == 100_000


def test_tail_numbers_follow_the_country_register(listings):
    for row in listings:
        country, tail = row[COLUMN["location_country"]], row[COLUMN["tail_number"]]
        assert re.fullmatch(TAIL_NUMBER_FORMATS[country], tail), (country, tail)


def test_german_marks_carry_the_weight_class(listings):
    first_letters = defaultdict(set)
    for row in listings:
        if row[COLUMN["location_country"]] == "DE":
            category = json.loads(row[COLUMN["specifications"]])["category"]
            first_letters[category].add(row[COLUMN["tail_number"]][2])
    assert first_letters["helicopter"] == {"H"}
    assert first_letters["piston_single"] == {"E"}
    assert first_letters["large_jet"] == {"A"}


def test_allocator_skips_taken_marks():
    fresh = TailNumberAllocator(seed=1)
    first, second = fresh.allocate("GB"), fresh.allocate("GB")
    avoiding = TailNumberAllocator(seed=1, taken={first})
    assert avoiding.allocate("GB") == second


def test_a_jet_costs_more_than_a_piston_of_the_same_year(listings):
    prices = usd_prices_by(listings, lambda row: (row[COLUMN["model"]], row[COLUMN["year_manufactured"]]))
    common_years = {year for model, year in prices if model == "G650ER"} & {
        year for model, year in prices if model == "172 Skyhawk"
    }
    assert common_years
    for year in common_years:
        assert min(prices["G650ER", year]) > 20 * max(prices["172 Skyhawk", year])


def test_median_price_rises_with_the_category(listings):
    prices = usd_prices_by(listings, lambda row: json.loads(row[COLUMN["specifications"]])["category"])
    medians = [statistics.median(prices[category]) for category in CATEGORIES if category != "helicopter"]
    assert medians == sorted(medians)


def test_newer_and_lower_time_airframes_cost_more(listings):
    skyhawks = [
        row for row in listings if row[COLUMN["model"]] == "172 Skyhawk" and row[COLUMN["currency"]] == "USD"
    ]
    by_decade = usd_prices_by(skyhawks, lambda row: row[COLUMN["year_manufactured"]] // 10 * 10)
    decades = sorted(by_decade)
    medians = [statistics.median(by_decade[decade]) for decade in decades]
    assert medians == sorted(medians)
    same_age = [row for row in skyhawks if 2005 <= row[COLUMN["year_manufactured"]] <= 2010]
    by_hours = sorted(same_age, key=lambda row: row[COLUMN["hours_total"]])
    quarter = len(by_hours) // 4
    low_time = statistics.median(row[COLUMN["price"]] for row in by_hours[:quarter])
    high_time = statistics.median(row[COLUMN["price"]] for row in by_hours[-quarter:])
    assert low_time > high_time


def test_market_mix_looks_real(listings):
    statuses = Counter(column(listings, "status"))
    assert statuses["active"] > 0.8 * len(listings)
    assert {"under_contract", "sold", "draft"} <= set(statuses)
    assert 0 < sum(column(listings, "featured")) < 0.1 * len(listings)
    countries = Counter(column(listings, "location_country"))
    assert countries.most_common(1)[0][0] == "US"
    assert {"GB", "DE", "FR", "CH", "CA", "AU", "BR", "AE", "ZA", "MX"} <= set(countries)
    europe = {"GB", "IE", "DE", "FR", "CH", "IT", "ES", "NL", "AT"}
    for row in listings:
        currency = row[COLUMN["currency"]]
        assert currency in {"USD", "EUR", "GBP"}
        if currency != "USD":
            assert row[COLUMN["location_country"]] in europe
    assert Counter(column(listings, "currency"))["USD"] > 0.85 * len(listings)


def test_same_seed_same_rows_and_another_seed_other_rows():
    first = list(generate_listings(1_000, SELLERS, seed=11, as_of=AS_OF))
    again = list(generate_listings(1_000, SELLERS, seed=11, as_of=AS_OF))
    other = list(generate_listings(1_000, SELLERS, seed=12, as_of=AS_OF))
    assert first == again
    assert column(first, "id") != column(other, "id")
    assert column(first, "tail_number") != column(other, "tail_number")


def test_generation_avoids_taken_tail_numbers():
    tails = column(list(generate_listings(500, SELLERS, seed=3, as_of=AS_OF)), "tail_number")
    again = column(
        list(generate_listings(500, SELLERS, seed=3, as_of=AS_OF, taken_tail_numbers=tails[:100])),
        "tail_number",
    )
    assert not set(tails[:100]) & set(again)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        next(generate_listings(1, []))
    with pytest.raises(ValueError):
        next(generate_listings(1, SELLERS, as_of=datetime(2026, 1, 1)))
    with pytest.raises(ValueError):
        next(generate_listings(-1, SELLERS))

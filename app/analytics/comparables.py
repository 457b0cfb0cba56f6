"""Comparables: the nearest public aircraft of the same type, sold and on the market.

Similarity (0..1) is a Gaussian kernel over build year and total time:
    similarity = exp(-½ · ((Δyear / 4)² + (Δln(hours + 200) / 0.6)²))
so a same-year aircraft with the same hours scores 1.0, four years apart about 0.61, and twice (or half)
the hours about 0.5 for a mid-time airframe. Only public statuses are ever candidates (policy.HIDDEN never:
no draft, suspended or withdrawn listing is shown to anyone here, whoever asks).
"""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz, process

from app.analytics.rates import convert
from app.analytics.schemas import Amount, Comparable
from app.core import db

MARKET = ("active", "on_hold", "under_contract")
SOLD = ("sold",)
YEAR_WINDOW = 10
CANDIDATES = 120  # per side of the build year, ranked by similarity in SQL
KEEP = 20  # the most similar candidates returned (the comparables median reads these)
PER_GROUP = 3
TOTAL = 6


def similarity(year: int, hours: int, other_year: int, other_hours: int) -> float:
    dy = (year - other_year) / 4
    dh = (math.log(max(hours, 0) + 200) - math.log(max(other_hours, 0) + 200)) / 0.6
    return math.exp(-0.5 * (dy * dy + dh * dh))


def closest_type(
    manufacturer: str, model: str, types: list[tuple[str, str, str, str]]
) -> tuple[tuple[str, str, str, str] | None, float]:
    """The known type nearest to the name (exact keys first), and how sure (0..1)."""
    maker_key, model_key = manufacturer.strip().lower(), model.strip().lower()
    for t in types:
        if t[0] == maker_key and t[1] == model_key:
            return t, 1.0
    if not types:
        return None, 0.0
    names = [f"{t[0]} {t[1]}" for t in types]
    match = process.extractOne(f"{maker_key} {model_key}", names, scorer=fuzz.token_set_ratio)
    if match is None:
        return None, 0.0
    _, score, index = match
    return types[index], score / 100


_FIND_SQL = """
WITH near AS (
    (SELECT id, status, year_manufactured, hours_total FROM listing_search
     WHERE maker_key = $1 AND model_key = $2 AND status = ANY($3::text[])
       AND year_manufactured >= $4::int AND year_manufactured <= $4::int + $6::int
       AND id IS DISTINCT FROM $5::uuid
     ORDER BY year_manufactured, id LIMIT $7)
    UNION ALL
    (SELECT id, status, year_manufactured, hours_total FROM listing_search
     WHERE maker_key = $1 AND model_key = $2 AND status = ANY($3::text[])
       AND year_manufactured < $4::int AND year_manufactured >= $4::int - $6::int
       AND id IS DISTINCT FROM $5::uuid
     ORDER BY year_manufactured DESC, id LIMIT $7)),
scored AS (
    SELECT id, status, exp(-0.5 * (((year_manufactured - $4::int) / 4.0)::float8 ^ 2
               + ((ln((greatest(hours_total, 0) + 200)::float8) - ln((greatest($8::int, 0) + 200)::float8)) / 0.6) ^ 2))
               AS similarity
    FROM near),
ranked AS (
    SELECT id, row_number() OVER (ORDER BY similarity DESC, id) AS overall,
           row_number() OVER (PARTITION BY status = 'sold' ORDER BY similarity DESC, id) AS in_side
    FROM scored)
SELECT l.id, l.manufacturer, l.model, l.year_manufactured, l.hours_total, l.price, l.currency, l.status
FROM ranked JOIN listings l ON l.id = ranked.id
WHERE (ranked.overall <= $9 OR ranked.in_side <= $10) AND l.status = ANY($3::text[])
"""


async def find(
    maker_key: str,
    model_key: str,
    year: int,
    hours: int,
    *,
    exclude: uuid.UUID | None = None,
    per_eur: dict[str, Decimal] | None = None,
) -> list[dict[str, Any]]:
    """The best candidates of one type near `year` (the `KEEP` most similar, plus the `PER_GROUP` most similar
    sold and on the market), each with its similarity and USD price (by the latest rates; None when
    unknown), best first."""
    # The nearest build years from both sides are index-only range scans of search's narrow copy
    # (listing_search_type_year_hours_idx carries status and hours); similarity is ranked there, and only the
    # few rows kept are read from `listings` for their price and currency (not all 2 x CANDIDATES of them).
    rows = await db.fetch(
        _FIND_SQL,
        maker_key,
        model_key,
        [*MARKET, *SOLD],
        year,
        exclude,
        YEAR_WINDOW,
        CANDIDATES,
        hours,
        KEEP,
        PER_GROUP,
    )
    rates = per_eur or {"USD": Decimal(1)}
    out = [
        {
            **dict(r),
            "similarity": similarity(year, hours, r["year_manufactured"], r["hours_total"]),
            "price_usd": convert(r["price"], r["currency"], "USD", rates),
        }
        for r in rows
    ]
    out.sort(key=lambda c: (-c["similarity"], c["id"]))
    return out


def pick(candidates: list[dict[str, Any]], *, discount: float = 1.0) -> list[Comparable]:
    """The nearest sold and the nearest on the market (three each when there are), then the nearest others."""
    sold = [c for c in candidates if c["status"] in SOLD][:PER_GROUP]
    market = [c for c in candidates if c["status"] in MARKET][:PER_GROUP]
    chosen = {c["id"] for c in sold + market}
    rest = [c for c in candidates if c["id"] not in chosen][: max(0, TOTAL - len(chosen))]
    picked = sorted(sold + market + rest, key=lambda c: (-c["similarity"], c["id"]))
    return [
        Comparable(
            listing_id=c["id"],
            manufacturer=c["manufacturer"],
            model=c["model"],
            year_manufactured=c["year_manufactured"],
            hours_total=c["hours_total"],
            price=Amount(amount=f"{Decimal(c['price']):.2f}", currency=c["currency"]),
            status=c["status"],
            similarity=round(c["similarity"] * discount, 3),
        )
        for c in picked
    ]

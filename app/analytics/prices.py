"""`GET /api/analytics/prices`: a type's price statistics over time, answered from the rollups alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.analytics import rates
from app.analytics.market import MARKET, type_key
from app.analytics.schemas import PricePeriod, PriceSeries
from app.core import db
from app.core.errors import ValidationFailed

# A type without a build-year filter is one row per period (year 0 holds all its build years); otherwise
# the kept observations of each build year (or type) combine into exact quartiles.
_QUERY = """
WITH r AS (
    SELECT period, listings, sales, prices FROM market_rollups
    WHERE interval = $1 AND ($2::text IS NULL OR maker_key = $2) AND ($3::text IS NULL OR model_key = $3)
      AND period >= $4 AND period <= $5 AND {years} AND maker_key <> '*'
),
counts AS (SELECT period, sum(listings)::int AS listings, sum(sales)::int AS sales FROM r GROUP BY period),
stats AS (
    SELECT period, min(p) AS min, max(p) AS max,
           percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY p) AS q
    FROM r, unnest(r.prices) AS p GROUP BY period
)
SELECT counts.period, counts.listings, counts.sales, stats.min, stats.max, stats.q
FROM counts JOIN stats USING (period) ORDER BY counts.period
"""
_SINGLE = """
SELECT period, listings, sales, min_usd AS min, max_usd AS max,
       ARRAY[p25_usd::float8, median_usd::float8, p75_usd::float8] AS q
FROM market_rollups
WHERE interval = $1 AND maker_key = $2 AND model_key = $3 AND period >= $4 AND period <= $5 AND year = 0
ORDER BY period
"""

_FAR_PAST, _FAR_FUTURE = date(1900, 1, 1), date(2999, 12, 31)


class CurrencyNotSupported(ValidationFailed):
    code, title = "currency_not_supported", "No exchange rate for this currency"


async def price_series(
    *,
    manufacturer: str | None,
    model: str | None,
    year_min: int | None,
    year_max: int | None,
    interval: str,
    start: date | None,
    end: date | None,
    currency: str,
) -> PriceSeries:
    """Listings, sales and price quartiles per period for a type (or a maker, or the whole market)."""
    if year_min is not None and year_max is not None and year_min > year_max:
        raise ValidationFailed(
            "yearMin must not be above yearMax", errors=[{"field": "yearMin", "message": "above yearMax"}]
        )
    if start is not None and end is not None and start > end:
        raise ValidationFailed("from must not be after to", errors=[{"field": "from", "message": "after to"}])
    maker_key = type_key(manufacturer) if manufacturer else None
    model_key = type_key(model) if model else None
    args = [interval, maker_key, model_key, start or _FAR_PAST, end or _FAR_FUTURE]
    if year_min is None and year_max is None and maker_key and model_key:
        rows = await db.fetch(_SINGLE, *args)
    elif year_min is None and year_max is None and not maker_key and not model_key:
        rows = await db.fetch(_SINGLE, interval, MARKET, MARKET, *args[3:])  # the whole market's own rows
    elif year_min is None and year_max is None:
        rows = await db.fetch(_QUERY.format(years="year = 0"), *args)
    else:
        rows = await db.fetch(
            _QUERY.format(years="year <> 0 AND year >= $6 AND year <= $7"),
            *args,
            year_min if year_min is not None else 0,
            year_max if year_max is not None else 9999,
        )
    per_eur = await _rates(currency)

    def money(value) -> str:
        converted = rates.convert(Decimal(str(value)), "USD", currency, per_eur)
        assert converted is not None
        return f"{converted:.2f}"

    return PriceSeries(
        currency=currency,
        series=[
            PricePeriod(
                period=r["period"],
                listings=r["listings"],
                sales=r["sales"],
                p25=money(round(r["q"][0], 2)),
                median=money(round(r["q"][1], 2)),
                p75=money(round(r["q"][2], 2)),
                min=money(r["min"]),
                max=money(r["max"]),
            )
            for r in rows
        ],
    )


async def _rates(currency: str) -> dict[str, Decimal]:
    if currency == "USD":
        return {"USD": Decimal(1)}
    pool_rows = await db.fetch(
        """SELECT DISTINCT ON (currency) currency, per_eur FROM fx_rates
           WHERE currency = ANY($1::text[]) ORDER BY currency, rate_date DESC""",
        ["USD", currency],
    )
    per_eur = {r["currency"]: r["per_eur"] for r in pool_rows}
    per_eur["EUR"] = Decimal(1)
    if "USD" not in per_eur or currency not in per_eur:
        raise CurrencyNotSupported(
            f"no exchange rate for {currency} (import ECB rates with `atp import rates FILE`)",
            errors=[{"field": "currency", "message": "no exchange rate"}],
        )
    return per_eur

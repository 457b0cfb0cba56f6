"""Valuations: the model's band for an aircraft, with the comparables that show why.

Confidence (0..1) starts from the band: 1 - (high - low) / (2 · estimate), then is scaled down when the
type had to be guessed (the closest known family) or when few comparables back it. Without a trained
model (or on a catalogue too small to train on) the estimate is the similarity-weighted median of the
comparables, its band their spread, and its confidence at most 0.3.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec

from app.analytics import comparables, features, rates
from app.analytics.model import ModelCache
from app.analytics.schemas import Amount, EstimateRequest, Valuation
from app.auth.principal import Principal
from app.core import db
from app.core.errors import NotFound, ValidationFailed
from app.listings import policy

FALLBACK_MAX_CONFIDENCE = 0.3
GUESSED_TYPE_FACTOR = 0.35
TYPE_MATCH_MIN = 0.55


class NoMarketData(NotFound):
    code, title = "no_market_data", "Nothing comparable is known yet"


def _weighted_median(values: list[tuple[float, float]]) -> float:
    ordered = sorted(values)
    total = sum(w for _, w in ordered)
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running >= total / 2:
            return value
    return ordered[-1][0]


async def estimate(
    subject: dict[str, Any],
    *,
    cache: ModelCache,
    currency: str = "USD",
    exclude: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Valuation:
    """The valuation of a listing-shaped `subject` (manufacturer, model, year_manufactured, hours_total…)."""
    now = now or datetime.now(UTC)
    year, hours = subject["year_manufactured"], subject["hours_total"]
    if year > now.year + 1:
        raise ValidationFailed(
            "an aircraft cannot be built in the future",
            errors=[{"field": "yearManufactured", "message": f"after {now.year + 1}"}],
        )
    types = await cache.known_types()
    found, match = comparables.closest_type(subject["manufacturer"], subject["model"], types)
    guessed = match < 1.0
    if found is not None and guessed and match < TYPE_MATCH_MIN:
        # Not even close by name: the maker alone, if we know it, is the family.
        makers = [t for t in types if t[0] == subject["manufacturer"].strip().lower()]
        found, match = (makers[0], 0.3) if makers else (None, 0.0)
    per_eur = await cache.rates()
    candidates = (
        await comparables.find(found[0], found[1], year, hours, exclude=exclude, per_eur=per_eur)
        if found
        else []
    )
    discount = 1.0 if not guessed else max(0.1, match) * 0.5
    picked = comparables.pick(candidates, discount=discount)
    matched_type = f"{found[2]} {found[3]}" if found and guessed else None

    model = await cache.current()
    row = dict(subject)
    if guessed and found is not None:
        row["manufacturer"], row["model"] = found[2], found[3]
    method = "model"
    # A type the model never saw is better valued by its comparables, when it has some.
    known = model is not None and model.knows_type(features.type_of(row))
    if model is not None and model.estimators and (known or not candidates):
        low, mid, high = await cache.predict(model, row, now)
        confidence = max(0.0, 1 - (high - low) / (2 * mid)) if mid > 0 else 0.0
        if guessed:
            confidence *= GUESSED_TYPE_FACTOR
        confidence *= min(1.0, 0.6 + 0.1 * len(picked))
    else:
        priced = [
            (float(c["price_usd"]), c["similarity"])
            for c in candidates[: comparables.KEEP]
            if c["price_usd"] is not None
        ]
        if not priced:
            raise NoMarketData("no model is trained yet and no comparable aircraft is listed")
        method = "comparables"
        mid = _weighted_median(priced)
        values = sorted(p for p, _ in priced)
        low, high = values[len(values) // 4], values[(3 * len(values)) // 4]
        if low == high:  # one comparable, or identical prices: say how little that tells
            low, high = mid * 0.75, mid * 1.25
        # Never a band narrower than ±10 %: a handful of asking prices says no more than that.
        low, high = min(low, mid * 0.9), max(high, mid * 1.1)
        confidence = min(FALLBACK_MAX_CONFIDENCE, 0.05 * len(priced)) * (
            GUESSED_TYPE_FACTOR if guessed else 1
        )

    if currency not in per_eur:
        currency = "USD"  # no rate for it: answer in USD rather than guess

    def money(usd: float) -> str:
        converted = rates.convert(Decimal(repr(usd)), "USD", currency, per_eur) or Decimal(0)
        return f"{_significant(converted):.2f}"

    return Valuation(
        estimate=Amount(amount=money(mid), currency=currency),
        low=money(low),
        high=money(high),
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        model_version=model.label if method == "model" and model is not None else _fallback_label(model),
        trained_at=model.trained_at if model is not None else None,
        comparables=picked,
        method=method,
        matched_type=matched_type,
    )


def _fallback_label(model) -> str:
    return f"comparables-v{model.version}" if model is not None else "comparables"


def _significant(amount: Decimal) -> Decimal:
    """Rounded to three significant figures: a valuation is not precise to the dollar."""
    if amount <= 0:
        return Decimal("0")
    exponent = amount.adjusted() - 2
    step = Decimal(1).scaleb(exponent)
    return (amount / step).quantize(Decimal(1), ROUND_HALF_UP) * step


async def listing_estimate(
    listing_id: uuid.UUID, viewer: Principal | None, *, cache: ModelCache
) -> Valuation:
    """The valuation of a listing anyone who may read it may see (404 otherwise), in its own currency."""
    row = await db.fetchrow(
        """SELECT id, seller, status, manufacturer, model, year_manufactured, hours_total, currency,
                  location_country, specifications, created_at, updated_at,
                  description ILIKE '%damage history:%' AS damage_history
           FROM listings WHERE id = $1""",
        listing_id,
    )
    if row is None or not policy.may_read_row(row, viewer):
        raise NotFound("listing not found")
    return await estimate(subject_of(row), cache=cache, currency=row["currency"], exclude=row["id"])


def subject_of(row: Any) -> dict[str, Any]:
    subject = dict(row)
    specs = subject.get("specifications")
    subject["specifications"] = (
        msgspec.json.decode(specs) if isinstance(specs, str | bytes) else (specs or {})
    )
    return subject


async def request_estimate(data: EstimateRequest, *, cache: ModelCache) -> Valuation:
    """The valuation of an aircraft that is not listed."""
    specs = msgspec.to_builtins(data.specifications) if data.specifications is not None else {}
    subject = {
        "manufacturer": data.manufacturer,
        "model": data.model,
        "year_manufactured": data.year_manufactured,
        "hours_total": data.hours_total,
        "location_country": data.location_country,
        "specifications": specs,
        "status": "active",
    }
    return await estimate(subject, cache=cache, currency=data.currency)

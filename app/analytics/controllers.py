"""HTTP endpoints of analytics (API.md "Analytics and valuation")."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.analytics import prices, queries, valuation
from app.analytics.model import ModelCache
from app.analytics.schemas import (
    EstimateRequest,
    FlaggedListing,
    Interval,
    PriceSeries,
    RiskCode,
    RiskFlags,
    Severity,
    Valuation,
)
from app.auth.principal import Principal
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

SECURED = [{"BearerToken": []}, {"ApiKey": []}]

Text = Annotated[str | None, QueryParameter(min_length=1, max_length=100)]
YearParam = Annotated[int | None, QueryParameter(ge=1903, le=2100)]


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]

    @get("/prices", summary="Price statistics of a type over time (from rollups; amounts converted)")
    async def price_series(
        self,
        manufacturer: Text = None,
        model: Text = None,
        year_min: Annotated[int | None, QueryParameter(name="yearMin", ge=1903, le=2100)] = None,
        year_max: Annotated[int | None, QueryParameter(name="yearMax", ge=1903, le=2100)] = None,
        interval: Annotated[Interval, QueryParameter()] = "month",
        start: Annotated[date | None, QueryParameter(name="from")] = None,
        end: Annotated[date | None, QueryParameter(name="to")] = None,
        currency: Annotated[str, QueryParameter(pattern=r"^[A-Z]{3}$")] = "USD",
    ) -> PriceSeries:
        return await prices.price_series(
            manufacturer=manufacturer,
            model=model,
            year_min=year_min,
            year_max=year_max,
            interval=interval,
            start=start,
            end=end,
            currency=currency,
        )


def _cache(request: Request) -> ModelCache:
    """The process's model cache (one per web process, created on first use)."""
    cache = getattr(request.app.state, "valuation_cache", None)
    if cache is None:
        cache = request.app.state.valuation_cache = ModelCache()
    return cache


class ValuationController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]

    @post(
        "/estimate", status_code=200, summary="Valuation of an aircraft that is not listed, with comparables"
    )
    async def estimate(self, request: Request, data: JSONBody[EstimateRequest]) -> Valuation:
        return await valuation.request_estimate(data, cache=_cache(request))


class ListingAnalyticsController(Controller):
    path = "/api/listings"
    tags = ["analytics"]

    @get("/{listing_id:uuid}/estimate", summary="Valuation of a listing: estimate, band, comparables")
    async def listing_estimate(
        self,
        request: Request,
        listing_id: FromPath[uuid.UUID],
        maybe_principal: NamedDependency[Principal | None],
    ) -> Valuation:
        return await valuation.listing_estimate(listing_id, maybe_principal, cache=_cache(request))

    @get("/{listing_id:uuid}/risk", security=SECURED, summary="Open risk flags of a listing (owner, admin)")
    async def listing_risk(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> RiskFlags:
        return await queries.listing_flags(principal, listing_id)


class RiskAdminController(Controller):
    path = "/api/admin/risk"
    tags = ["admin"]
    security = SECURED

    @get("/", summary="Listings with open risk flags, with evidence (admins)")
    async def flagged(
        self,
        principal: NamedDependency[Principal],
        code: Annotated[RiskCode | None, QueryParameter()] = None,
        severity: Annotated[Severity | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[FlaggedListing]:
        return await queries.flagged_listings(
            principal, code=code, severity=severity, limit=limit, cursor=cursor
        )

"""HTTP endpoint of search (API.md `GET /api/search`)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.auth.principal import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.listings.controllers import AMOUNT
from app.listings.schemas import EngineType, ListingStatus
from app.search import saved, service
from app.search.schemas import (
    FACETS,
    SavedSearchCreate,
    SavedSearchRead,
    SearchCategory,
    SearchQuery,
    SearchResult,
    SearchSort,
)

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
_NEAR = r"^\s*-?[0-9]{1,3}(\.[0-9]+)?\s*,\s*-?[0-9]{1,3}(\.[0-9]+)?\s*$"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _near(near: str | None, radius_km: float | None) -> tuple[float, float] | None:
    if (near is None) != (radius_km is None):
        raise _invalid("near" if near is None else "radiusKm", "near and radiusKm go together")
    if near is None:
        return None
    lat, lon = (float(part) for part in near.split(","))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _invalid("near", "latitude must be within ±90 and longitude within ±180")
    return lat, lon


def _facets(value: str | None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in (value or "").split(",") if part.strip()))
    unknown = [n for n in names if n not in FACETS]
    if unknown:
        raise _invalid("facets", f"unknown facet {unknown[0]!r}; one of {', '.join(FACETS)}")
    return names


def _check_ranges(**pairs: tuple[object, object]) -> None:
    for field, (low, high) in pairs.items():
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            raise _invalid(field, "minimum is greater than maximum")


class SearchController(Controller):
    path = "/api/search"
    tags = ["search"]

    @get("/", summary="Search listings: typo-tolerant text, filters, facets, cursor pages")
    async def search_listings(
        self,
        request: Request,
        maybe_principal: NamedDependency[Principal | None],
        q: Annotated[str, QueryParameter(max_length=200, description="free text")] = "",
        manufacturer: Annotated[str | None, QueryParameter(max_length=100)] = None,
        model: Annotated[str | None, QueryParameter(max_length=100)] = None,
        year_min: Annotated[int | None, QueryParameter(name="yearMin", ge=1903, le=2100)] = None,
        year_max: Annotated[int | None, QueryParameter(name="yearMax", ge=1903, le=2100)] = None,
        price_min: Annotated[str | None, QueryParameter(name="priceMin", pattern=AMOUNT)] = None,
        price_max: Annotated[str | None, QueryParameter(name="priceMax", pattern=AMOUNT)] = None,
        hours_max: Annotated[int | None, QueryParameter(name="hoursMax", ge=0, le=1_000_000)] = None,
        seats_min: Annotated[int | None, QueryParameter(name="seatsMin", ge=0, le=1000)] = None,
        range_min: Annotated[int | None, QueryParameter(name="rangeMin", ge=0, le=20_000)] = None,
        country: Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z]{2}$")] = None,
        engine_type: Annotated[EngineType | None, QueryParameter(name="engineType")] = None,
        category: Annotated[
            SearchCategory | None, QueryParameter(description="kind of aircraft (catalogue models)")
        ] = None,
        status: Annotated[list[ListingStatus] | None, QueryParameter(description="statuses")] = None,
        seller_id: Annotated[uuid.UUID | None, QueryParameter(name="sellerId")] = None,
        near: Annotated[str | None, QueryParameter(pattern=_NEAR, description="lat,lon")] = None,
        radius_km: Annotated[float | None, QueryParameter(name="radiusKm", gt=0, le=20_000)] = None,
        sort: Annotated[SearchSort | None, QueryParameter(description="default: relevance with q")] = None,
        facets: Annotated[str | None, QueryParameter(max_length=200, description="comma list")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> SearchResult:
        low_price = Decimal(price_min) if price_min else None
        high_price = Decimal(price_max) if price_max else None
        _check_ranges(yearMin=(year_min, year_max), priceMin=(low_price, high_price))
        query = SearchQuery(
            q=q.strip(),
            manufacturer=manufacturer,
            model=model,
            year_min=year_min,
            year_max=year_max,
            price_min=low_price,
            price_max=high_price,
            hours_max=hours_max,
            seats_min=seats_min,
            range_min=range_min,
            country=country.upper() if country else None,
            engine_type=engine_type,
            category=category,
            statuses=tuple(dict.fromkeys(status or ())),
            seller_id=seller_id,
            near=_near(near, radius_km),
            radius_km=radius_km,
            sort=sort or ("relevance" if q.strip() else "newest"),
            facets=_facets(facets),
            limit=limit,
            cursor=cursor,
        )
        backend = service.backend_of(request.app.state)
        return await service.search(backend, query, maybe_principal)


class SavedSearchController(Controller):
    path = "/api/saved-searches"
    tags = ["search"]

    @post("/", security=SECURED, summary="Save a search; new matches and price drops become notifications")
    async def create_saved_search(
        self, principal: NamedDependency[Principal], data: JSONBody[SavedSearchCreate]
    ) -> SavedSearchRead:
        return await saved.create_saved_search(principal, data)

    @get("/", security=SECURED, summary="My saved searches")
    async def list_saved_searches(self, principal: NamedDependency[Principal]) -> list[SavedSearchRead]:
        return await saved.list_saved_searches(principal)

    @delete("/{saved_search_id:uuid}", security=SECURED, summary="Delete one of my saved searches")
    async def delete_saved_search(
        self, principal: NamedDependency[Principal], saved_search_id: FromPath[uuid.UUID]
    ) -> None:
        await saved.delete_saved_search(principal, saved_search_id)

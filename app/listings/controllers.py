"""HTTP endpoints of listings (API.md "Listings")."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from app.auth.principal import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.core.schema import MONEY_PATTERN
from app.listings import service, stats
from app.listings.schemas import ListingCreate, ListingRead, ListingSort, ListingStatus, ListingUpdate

SECURED = [{"BearerToken": []}, {"ApiKey": []}]

# A money amount in a query string: the same decimal string as in bodies.
AMOUNT = MONEY_PATTERN

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="page size")]


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit() or len(cleaned) > 9:
        raise ValidationFailed(
            "If-Match must be the listing version number",
            errors=[{"field": "If-Match", "message": "expected an integer version"}],
        )
    return int(cleaned)


class ListingController(Controller):
    path = "/api/listings"
    tags = ["listings"]

    @post("/", security=SECURED, summary="List an aircraft (seller or broker, verification level ≥ 1)")
    async def create_listing(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[ListingCreate],
        draft: Annotated[bool, QueryParameter(description="create as draft")] = False,
    ) -> ListingRead:
        return await service.create_listing(principal, data, draft=draft)

    @get("/{listing_id:uuid}", summary="One listing")
    async def get_listing(
        self,
        request: Request,
        listing_id: FromPath[uuid.UUID],
        maybe_principal: NamedDependency[Principal | None],
    ) -> ListingRead:
        listing = await service.get_listing(listing_id, maybe_principal)
        client_host = request.client.host if request.client else None
        stats.VIEWS.count(listing, maybe_principal, client_host)
        return listing

    @patch("/{listing_id:uuid}", security=SECURED, summary="Change a listing (owner or admin)")
    async def update_listing(
        self,
        principal: NamedDependency[Principal],
        listing_id: FromPath[uuid.UUID],
        data: JSONBody[ListingUpdate],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match", max_length=20)] = None,
    ) -> ListingRead:
        return await service.update_listing(principal, listing_id, data, if_match=_if_match(if_match))

    @delete("/{listing_id:uuid}", security=SECURED, summary="Withdraw a listing (owner or admin)")
    async def withdraw_listing(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> None:
        await service.withdraw_listing(principal, listing_id)

    @get("/", summary="Filter and page through listings")
    async def list_listings(
        self,
        maybe_principal: NamedDependency[Principal | None],
        manufacturer: Annotated[str | None, QueryParameter(max_length=100)] = None,
        model: Annotated[str | None, QueryParameter(max_length=100)] = None,
        year_min: Annotated[int | None, QueryParameter(name="yearMin", ge=1903, le=2100)] = None,
        year_max: Annotated[int | None, QueryParameter(name="yearMax", ge=1903, le=2100)] = None,
        price_min: Annotated[str | None, QueryParameter(name="priceMin", pattern=AMOUNT)] = None,
        price_max: Annotated[str | None, QueryParameter(name="priceMax", pattern=AMOUNT)] = None,
        hours_max: Annotated[int | None, QueryParameter(name="hoursMax", ge=0, le=1_000_000)] = None,
        country: Annotated[str | None, QueryParameter(min_length=2, max_length=2)] = None,
        status: Annotated[
            list[ListingStatus] | None, QueryParameter(description="one or more statuses")
        ] = None,
        seller_id: Annotated[uuid.UUID | None, QueryParameter(name="sellerId")] = None,
        sort: Annotated[ListingSort, QueryParameter()] = "newest",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[ListingRead]:
        filters = service.ListingFilters(
            manufacturer=manufacturer,
            model=model,
            year_min=year_min,
            year_max=year_max,
            price_min=Decimal(price_min) if price_min else None,
            price_max=Decimal(price_max) if price_max else None,
            hours_max=hours_max,
            country=country,
            statuses=list(status) if status else None,
            seller_id=seller_id,
            sort=sort,
        )
        return await service.list_listings(filters, limit=limit, cursor=cursor, viewer=maybe_principal)

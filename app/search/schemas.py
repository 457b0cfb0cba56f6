"""Wire shapes of search (API.md `GET /api/search`) and of saved searches."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from app.core.schema import Money, Schema
from app.listings.schemas import EngineType, ListingRead

SearchCategory = Literal[
    "jet",
    "light_jet",
    "midsize_jet",
    "super_midsize_jet",
    "large_jet",
    "turboprop",
    "piston_single",
    "piston_twin",
    "helicopter",
]
SearchSort = Literal["relevance", "price_asc", "price_desc", "year_desc", "hours_asc", "newest"]
Facet = Literal["manufacturer", "model", "year", "country", "engineType", "category"]
# "category": the catalogue kind of each match (light_jet, turboprop, helicopter…); models the catalogue
# does not know are not counted. The "jet" filter is the sum of the four jet kinds.
FACETS: tuple[str, ...] = ("manufacturer", "model", "year", "country", "engineType", "category")


class SearchQuery(msgspec.Struct, kw_only=True, frozen=True):
    """Everything a search can ask for, already validated; backends translate it."""

    q: str = ""
    manufacturer: str | None = None
    model: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    hours_max: int | None = None
    seats_min: int | None = None
    range_min: int | None = None
    country: str | None = None
    engine_type: str | None = None
    category: str | None = None  # aliases.CATEGORIES: the catalogue models of that kind
    statuses: tuple[str, ...] = ()
    seller_id: uuid.UUID | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    sort: SearchSort = "relevance"
    facets: tuple[str, ...] = ()
    limit: int = 20
    cursor: str | None = None
    listing_ids: tuple[uuid.UUID, ...] = ()  # only these listings (saved-search alerts)


class SearchResult(Schema):
    items: list[ListingRead]
    next_cursor: str | None
    estimated_total: int
    facets: dict[str, dict[str, int]]


Amount = Money


class SavedQuery(Schema):
    """The search a buyer saves: the same names as the `GET /api/search` parameters."""

    q: Annotated[str, Meta(max_length=200)] = ""
    manufacturer: Annotated[str, Meta(max_length=100)] | None = None
    model: Annotated[str, Meta(max_length=100)] | None = None
    year_min: Annotated[int, Meta(ge=1903, le=2100)] | None = None
    year_max: Annotated[int, Meta(ge=1903, le=2100)] | None = None
    price_min: Amount | None = None
    price_max: Amount | None = None
    hours_max: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    seats_min: Annotated[int, Meta(ge=0, le=1000)] | None = None
    range_min: Annotated[int, Meta(ge=0, le=20_000)] | None = None
    country: Annotated[str, Meta(pattern=r"^[A-Z]{2}$")] | None = None
    engine_type: EngineType | None = None


class SavedSearchCreate(Schema):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    query: SavedQuery


class SavedSearchRead(Schema):
    id: uuid.UUID
    name: str
    query: SavedQuery
    created_at: datetime

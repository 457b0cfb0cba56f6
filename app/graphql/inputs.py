"""GraphQL inputs and their translation into the services' own (already validated) structs.

Values are checked with the REST constraints themselves (the msgspec types of `app/listings/schemas.py`
and the bodies REST decodes), so GraphQL accepts exactly what REST accepts and answers
`validation_failed` with the offending field otherwise.
"""

from __future__ import annotations

import enum
import re
import uuid
from decimal import Decimal as PyDecimal
from typing import Annotated, Any

import msgspec
import strawberry
from msgspec import Meta

from app.core.errors import ValidationFailed
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.schema import Money
from app.graphql.types import Decimal, ListingStatus
from app.listings.schemas import EngineType, Manufacturer, Model, Year
from app.listings.service import ListingFilters
from app.search.schemas import SearchCategory, SearchQuery


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"field": field, "message": message}])


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def checked(value: Any, type_: Any, field: str) -> Any:
    """`value` converted to `type_` (a msgspec type or Struct) or 422 naming the field."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        where = field
        if match and match["path"]:
            where = f"{field}.{match['path']}" if field else match["path"]
            message = message[: match.start()]
        raise invalid(where or "input", message) from None


def uuid_of(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid(field, "not an id") from None


# --- filters, sort, pages ----------------------------------------------------------------------


@strawberry.input
class IntRange:
    min: int | None = None
    max: int | None = None


@strawberry.input
class DecimalRange:
    min: Decimal | None = None
    max: Decimal | None = None


@strawberry.input
class GeoPoint:
    latitude: float
    longitude: float


@strawberry.input
class LocationFilter:
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2")
    near: GeoPoint | None = None
    radius_km: float | None = None


@strawberry.input(description="Seed 000 §5.2's filter; `features` is not offered yet (refused when set).")
class AircraftFilter:
    manufacturer: list[str] | None = None
    model: list[str] | None = None
    year_range: IntRange | None = None
    price_range: DecimalRange | None = None
    hours_range: IntRange | None = None
    location: LocationFilter | None = None
    features: list[str] | None = None
    status: list[ListingStatus] | None = None
    seller_id: strawberry.ID | None = None
    engine_type: str | None = strawberry.field(default=None, description="search only")
    category: str | None = strawberry.field(default=None, description="search only")
    seats_min: int | None = strawberry.field(default=None, description="search only")
    range_min: int | None = strawberry.field(default=None, description="search only")


@strawberry.enum
class SortField(enum.Enum):
    CREATED_AT = "created_at"
    PRICE = "price"
    YEAR = "year"
    HOURS = "hours"
    RELEVANCE = "relevance"


@strawberry.enum
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input
class SortOptions:
    field: SortField = SortField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class PaginationInput:
    first: int | None = None
    after: str | None = None


# (field, direction) -> the REST `sort` value of GET /api/listings and GET /api/search
_SORTS = {
    (SortField.CREATED_AT, SortDirection.DESC): "newest",
    (SortField.CREATED_AT, SortDirection.ASC): "oldest",
    (SortField.PRICE, SortDirection.ASC): "price_asc",
    (SortField.PRICE, SortDirection.DESC): "price_desc",
    (SortField.YEAR, SortDirection.DESC): "year_desc",
    (SortField.YEAR, SortDirection.ASC): "year_asc",
    (SortField.HOURS, SortDirection.ASC): "hours_asc",
    (SortField.RELEVANCE, SortDirection.DESC): "relevance",
}
_LIST_SORTS = {"newest", "oldest", "price_asc", "price_desc", "year_desc", "year_asc", "hours_asc"}
_SEARCH_SORTS = {"relevance", "price_asc", "price_desc", "year_desc", "hours_asc", "newest"}


def sort_name(sort: SortOptions | None, allowed: set[str], default: str) -> str:
    if sort is None:
        return default
    name = _SORTS.get((sort.field, sort.direction))
    if name is None or name not in allowed:
        raise invalid("sort", f"{sort.field.name} {sort.direction.name} is not offered here")
    return name


def page_args(
    first: int | None, after: str | None, pagination: PaginationInput | None
) -> tuple[int, str | None]:
    if pagination is not None:
        first = pagination.first if pagination.first is not None else first
        after = pagination.after if pagination.after is not None else after
    limit = DEFAULT_LIMIT if first is None else first
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("first", f"between 1 and {MAX_LIMIT}")
    if after is not None and len(after) > 500:
        raise invalid("after", "too long")
    return limit, after


Amount = Money
Country = Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")]
SearchText = Annotated[str, Meta(max_length=200)]


class _Common(msgspec.Struct, kw_only=True):
    manufacturer: Manufacturer | None = None
    model: Model | None = None
    year_min: Year | None = None
    year_max: Year | None = None
    price_min: Amount | None = None
    price_max: Amount | None = None
    hours_max: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    country: Country | None = None
    statuses: list[str] | None = None
    seller_id: uuid.UUID | None = None


def _one(values: list[str] | None, field: str) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise invalid(field, "one value at a time for now")
    return values[0]


def _common(f: AircraftFilter | None) -> _Common:
    if f is None:
        return _Common()
    if f.features:
        raise invalid("filter.features", "not offered yet; use engineType, category, seatsMin or rangeMin")
    if f.hours_range is not None and f.hours_range.min is not None:
        raise invalid("filter.hoursRange.min", "only a maximum is offered")
    year, price = f.year_range or IntRange(), f.price_range or DecimalRange()
    common = _Common(
        manufacturer=_one(f.manufacturer, "filter.manufacturer"),
        model=_one(f.model, "filter.model"),
        year_min=year.min,
        year_max=year.max,
        price_min=price.min,
        price_max=price.max,
        hours_max=f.hours_range.max if f.hours_range else None,
        country=f.location.country if f.location else None,
        statuses=[s.value for s in f.status] if f.status else None,
        seller_id=uuid_of(f.seller_id, "filter.sellerId") if f.seller_id else None,
    )
    checked(msgspec.to_builtins(common), _Common, "filter")
    for field, low, high in (
        ("filter.yearRange", common.year_min, common.year_max),
        (
            "filter.priceRange",
            PyDecimal(common.price_min) if common.price_min else None,
            PyDecimal(common.price_max) if common.price_max else None,
        ),
    ):
        if low is not None and high is not None and low > high:
            raise invalid(field, "min is greater than max")
    return common


def listing_filters(f: AircraftFilter | None, sort: str) -> ListingFilters:
    """`GET /api/listings` filters; the search-only ones are refused here."""
    if f is not None:
        for name in ("engine_type", "category", "seats_min", "range_min"):
            if getattr(f, name) is not None:
                raise invalid(f"filter.{name}", "offered by searchAircraft only")
        if f.location is not None and f.location.near is not None:
            raise invalid("filter.location.near", "offered by searchAircraft only")
    c = _common(f)
    return ListingFilters(
        manufacturer=c.manufacturer,
        model=c.model,
        year_min=c.year_min,
        year_max=c.year_max,
        price_min=PyDecimal(c.price_min) if c.price_min else None,
        price_max=PyDecimal(c.price_max) if c.price_max else None,
        hours_max=c.hours_max,
        country=c.country.upper() if c.country else None,
        statuses=c.statuses,
        seller_id=c.seller_id,
        sort=sort,
    )


class _SearchOnly(msgspec.Struct, kw_only=True):
    q: SearchText = ""
    engine_type: EngineType | None = None
    category: SearchCategory | None = None
    seats_min: Annotated[int, Meta(ge=0, le=1000)] | None = None
    range_min: Annotated[int, Meta(ge=0, le=20_000)] | None = None
    latitude: Annotated[float, Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Meta(ge=-180, le=180)] | None = None
    radius_km: Annotated[float, Meta(gt=0, le=20_000)] | None = None


def search_query(
    text: str, f: AircraftFilter | None, sort: str, limit: int, after: str | None
) -> SearchQuery:
    """`GET /api/search` with the same meaning of every filter."""
    c = _common(f)
    near = f.location.near if f is not None and f.location is not None else None
    radius = f.location.radius_km if f is not None and f.location is not None else None
    if (near is None) != (radius is None):
        raise invalid("filter.location", "near and radiusKm go together")
    extra = checked(
        {
            "q": text.strip(),
            "engine_type": f.engine_type if f else None,
            "category": f.category if f else None,
            "seats_min": f.seats_min if f else None,
            "range_min": f.range_min if f else None,
            "latitude": near.latitude if near else None,
            "longitude": near.longitude if near else None,
            "radius_km": radius,
        },
        _SearchOnly,
        "filter",
    )
    return SearchQuery(
        q=extra.q,
        manufacturer=c.manufacturer,
        model=c.model,
        year_min=c.year_min,
        year_max=c.year_max,
        price_min=PyDecimal(c.price_min) if c.price_min else None,
        price_max=PyDecimal(c.price_max) if c.price_max else None,
        hours_max=c.hours_max,
        seats_min=extra.seats_min,
        range_min=extra.range_min,
        country=c.country.upper() if c.country else None,
        engine_type=extra.engine_type,
        category=extra.category,
        statuses=tuple(dict.fromkeys(c.statuses or ())),
        seller_id=c.seller_id,
        near=(extra.latitude, extra.longitude) if near else None,
        radius_km=extra.radius_km,
        sort=sort,  # type: ignore[arg-type]
        limit=limit,
        cursor=after,
    )


# --- listing bodies ----------------------------------------------------------------------------


@strawberry.input
class LocationInput:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2")
    city: str


@strawberry.input
class SpecificationsInput:
    engine_type: str | None = None
    engine_hours: int | None = None
    avionics: list[str] | None = None
    interior_configuration: str | None = None
    exterior_color: str | None = None
    max_passengers: int | None = None
    max_range_nm: int | None = None
    max_speed_kts: int | None = None
    useful_load_lbs: int | None = None
    category: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@strawberry.input(description="REST `POST /api/listings` body; `aircraftModel` is REST's `model`.")
class CreateAircraftListingInput:
    manufacturer: str
    aircraft_model: str
    year_manufactured: int
    tail_number: str
    hours_total: int
    price: Decimal
    currency: str
    location: LocationInput
    description: str = ""
    specifications: SpecificationsInput | None = None


@strawberry.input(description="REST `PATCH /api/listings/{id}`: only the fields given change.")
class UpdateAircraftListingInput:
    manufacturer: str | None = strawberry.UNSET
    aircraft_model: str | None = strawberry.UNSET
    year_manufactured: int | None = strawberry.UNSET
    tail_number: str | None = strawberry.UNSET
    hours_total: int | None = strawberry.UNSET
    price: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    location: LocationInput | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    specifications: SpecificationsInput | None = strawberry.UNSET
    status: ListingStatus | None = strawberry.UNSET
    featured: bool | None = strawberry.UNSET


def _specs(specs: SpecificationsInput | None) -> dict | None:
    if specs is None:
        return None
    out = {
        "engineType": specs.engine_type,
        "engineHours": specs.engine_hours,
        "interiorConfiguration": specs.interior_configuration,
        "exteriorColor": specs.exterior_color,
        "maxPassengers": specs.max_passengers,
        "maxRangeNm": specs.max_range_nm,
        "maxSpeedKts": specs.max_speed_kts,
        "usefulLoadLbs": specs.useful_load_lbs,
        "category": specs.category,
        "latitude": specs.latitude,
        "longitude": specs.longitude,
    }
    if specs.avionics is not None:
        out["avionics"] = specs.avionics
    return out


def create_body(data: CreateAircraftListingInput) -> dict:
    """The REST body of the same listing (decoded into ListingCreate by the caller)."""
    return {
        "manufacturer": data.manufacturer,
        "model": data.aircraft_model,
        "yearManufactured": data.year_manufactured,
        "tailNumber": data.tail_number,
        "hoursTotal": data.hours_total,
        "price": data.price,
        "currency": data.currency,
        "locationCountry": data.location.country,
        "locationCity": data.location.city,
        "description": data.description,
        "specifications": _specs(data.specifications),
    }


def update_body(data: UpdateAircraftListingInput) -> dict:
    """The REST PATCH body: given fields only (an explicit null is refused like REST refuses it)."""
    given: dict[str, Any] = {}
    pairs = {
        "manufacturer": data.manufacturer,
        "model": data.aircraft_model,
        "yearManufactured": data.year_manufactured,
        "tailNumber": data.tail_number,
        "hoursTotal": data.hours_total,
        "price": data.price,
        "currency": data.currency,
        "description": data.description,
        "featured": data.featured,
    }
    for key, value in pairs.items():
        if value is not strawberry.UNSET:
            given[key] = value
    if data.location is not strawberry.UNSET:
        if data.location is None:
            raise invalid("input.location", "cannot be null")
        given["locationCountry"], given["locationCity"] = data.location.country, data.location.city
    if data.specifications is not strawberry.UNSET:
        given["specifications"] = _specs(data.specifications)
    if data.status is not strawberry.UNSET:
        given["status"] = data.status.value if data.status is not None else None
    return given

"""Wire shapes of listings (API.md "Listings")."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from litestar.datastructures import UploadFile
from msgspec import UNSET, Meta, UnsetType

from app.core.iso import COUNTRIES, CURRENCIES
from app.core.schema import Money, Schema, amount

Manufacturer = Annotated[str, Meta(min_length=1, max_length=100)]
Model = Annotated[str, Meta(min_length=1, max_length=100)]
Year = Annotated[int, Meta(ge=1903, le=2100)]
Hours = Annotated[int, Meta(ge=0, le=200_000)]
Price = Money
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
City = Annotated[str, Meta(min_length=1, max_length=100)]
TailNumber = Annotated[
    str, Meta(min_length=2, max_length=10, pattern=r"^[A-Za-z0-9]{1,3}-?[A-Za-z0-9]{1,6}$")
]
Description = Annotated[str, Meta(max_length=10_000)]
ListingStatus = Literal[
    "draft", "active", "on_hold", "under_contract", "sold", "suspended", "expired", "withdrawn"
]
ListingSort = Literal["newest", "oldest", "price_asc", "price_desc", "year_desc", "year_asc", "hours_asc"]
EngineType = Literal["piston", "turboprop", "jet", "turboshaft", "electric"]


class Specifications(Schema):
    engine_type: EngineType | None = None
    engine_hours: Annotated[int, Meta(ge=0, le=200_000)] | None = None
    avionics: Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=50)] = []
    interior_configuration: Annotated[str, Meta(max_length=100)] | None = None
    exterior_color: Annotated[str, Meta(max_length=50)] | None = None
    max_passengers: Annotated[int, Meta(ge=0, le=1000)] | None = None
    max_range_nm: Annotated[int, Meta(ge=0, le=20_000)] | None = None
    max_speed_kts: Annotated[int, Meta(ge=0, le=2_000)] | None = None
    useful_load_lbs: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    category: Annotated[str, Meta(max_length=50)] | None = None
    latitude: Annotated[float, Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Meta(ge=-180, le=180)] | None = None


class StoredSpecifications(Specifications, forbid_unknown_fields=False):
    """Specifications as read back from the database: tolerant of keys older code wrote."""


class ListingCreate(Schema):
    manufacturer: Manufacturer
    model: Model
    year_manufactured: Year
    tail_number: TailNumber
    hours_total: Hours
    price: Price
    currency: Currency
    location_country: Country
    location_city: City
    description: Description = ""
    specifications: Specifications | None = None

    def __post_init__(self) -> None:
        _check_values(self)


class ListingUpdate(Schema):
    manufacturer: Manufacturer | UnsetType = UNSET
    model: Model | UnsetType = UNSET
    year_manufactured: Year | UnsetType = UNSET
    tail_number: TailNumber | UnsetType = UNSET
    hours_total: Hours | UnsetType = UNSET
    price: Price | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    location_country: Country | UnsetType = UNSET
    location_city: City | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    specifications: Specifications | UnsetType = UNSET
    status: ListingStatus | UnsetType = UNSET
    featured: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        _check_values(self)


MAX_PRICE = Decimal("1000000000000")


def _check_values(data: ListingCreate | ListingUpdate) -> None:
    """Rules msgspec constraints cannot state; a ValueError here becomes a 4xx validation error."""
    if data.price is not UNSET:
        price = amount(data.price)
        if price <= 0 or price >= MAX_PRICE:
            raise ValueError("price must be a positive amount below 1,000,000,000,000 - at `$.price`")
    if data.currency is not UNSET and data.currency not in CURRENCIES:
        raise ValueError("currency must be an ISO 4217 code - at `$.currency`")
    if data.location_country is not UNSET and data.location_country not in COUNTRIES:
        raise ValueError("locationCountry must be an ISO 3166-1 alpha-2 code - at `$.locationCountry`")
    if data.year_manufactured is not UNSET and data.year_manufactured > datetime.now().year + 1:
        raise ValueError("yearManufactured cannot be later than next year - at `$.yearManufactured`")
    if data.tail_number is not UNSET:
        data.tail_number = data.tail_number.upper()


class HoldSummary(Schema):
    hold_id: uuid.UUID
    expires_at: datetime


class ListingRead(Schema):
    id: uuid.UUID
    seller_id: uuid.UUID
    manufacturer: str
    model: str
    year_manufactured: int
    tail_number: str
    hours_total: int
    price: str
    currency: str
    location_country: str
    location_city: str
    description: str
    status: ListingStatus
    featured: bool
    specifications: Specifications
    images: list[dict]
    hold: HoldSummary | None
    version: int
    created_at: datetime
    updated_at: datetime
    verified: bool = False  # an approved aircraft verification (FAA registry, sanctions, documents)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def listing_read(row, hold: HoldSummary | None = None) -> ListingRead:
    specs = row["specifications"]
    images = row["images"]
    return ListingRead(
        id=row["id"],
        seller_id=row["seller"],
        manufacturer=row["manufacturer"],
        model=row["model"],
        year_manufactured=row["year_manufactured"],
        tail_number=row["tail_number"],
        hours_total=row["hours_total"],
        price=money(row["price"]),
        currency=row["currency"],
        location_country=row["location_country"],
        location_city=row["location_city"],
        description=row["description"],
        status=row["status"],
        featured=row["featured"],
        verified=bool(row.get("verified", False)),
        specifications=msgspec.json.decode(specs, type=StoredSpecifications, strict=False)
        if isinstance(specs, str | bytes)
        else msgspec.convert(specs or {}, StoredSpecifications, strict=False),
        images=msgspec.json.decode(images) if isinstance(images, str | bytes) else (images or []),
        hold=hold,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


PhotoStatus = Literal["processing", "ready", "failed"]


class PhotoRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    status: PhotoStatus
    url: str
    thumbnail_url: str | None
    large_url: str | None
    width: int
    height: int
    content_type: str
    created_at: datetime


class PhotoUpload(msgspec.Struct, forbid_unknown_fields=True):
    """The multipart form of a photo upload: one part named `file`."""

    file: UploadFile


class PricePoint(Schema):
    price: str
    currency: str
    changed_at: datetime


class PriceHistory(Schema):
    items: list[PricePoint]


class ListingStats(Schema):
    views: int
    unique_viewers: int
    active_hold: HoldSummary | None
    waitlist_length: int
    watchers: int = 0  # users with the listing on their watchlist


class WatchRead(Schema):
    """One aircraft on a watchlist: the listing as it is now, or none when the watcher may no longer read it."""

    listing_id: uuid.UUID
    watched_at: datetime
    available: bool
    listing: ListingRead | None


class WatchedIds(Schema):
    listing_ids: list[uuid.UUID]

"""Listings: aircraft for sale, their price history, photos and who watches them."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table

from db.accounts.tables import User


class Listing(Table, tablename="listings"):
    id = UUID(primary_key=True, default=UUID4())
    seller = ForeignKey(references=User, index=True)
    manufacturer = Varchar(length=100)
    model = Varchar(length=100)
    year_manufactured = Integer()
    tail_number = Varchar(length=20)
    hours_total = Integer()
    price = Numeric(digits=(14, 2))
    currency = Varchar(length=3, default="USD")
    location_country = Varchar(length=2)
    location_city = Varchar(length=100)
    description = Text(default="")
    status = Varchar(length=20, default="active")
    featured = Boolean(default=False)
    verified = Boolean(default=False)
    specifications = JSONB(default="{}")
    images = JSONB(default="[]")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PriceChange(Table, tablename="listing_price_history"):
    id = BigSerial(primary_key=True)
    listing = ForeignKey(references=Listing, index=True)
    old_price = Numeric(digits=(14, 2), null=True, default=None)
    new_price = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    changed_by = UUID(null=True, default=None)
    changed_at = Timestamptz(default=TimestamptzNow())


class ListingPhoto(Table, tablename="listing_photos"):
    """A photo of a listing: the original as uploaded, then the worker's thumbnails (`status` ready)."""

    id = UUID(primary_key=True, default=UUID4())
    listing = ForeignKey(references=Listing, index=True)
    status = Varchar(length=20, default="processing")
    content_type = Varchar(length=40)
    original_key = Varchar(length=300)
    thumbnail_key = Varchar(length=300, null=True, default=None)
    large_key = Varchar(length=300, null=True, default=None)
    width = Integer()
    height = Integer()
    byte_size = Integer()
    uploaded_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)


class ListingWatch(Table, tablename="listing_watches"):
    """A user watches a listing: it is on their watchlist, its price and status shown live."""

    user_id = UUID()
    listing = ForeignKey(references=Listing, index=True)
    created_at = Timestamptz(default=TimestamptzNow())

"""The GraphQL object types: seed 000 §5.2's AircraftListing and friends, built from the REST shapes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.accounts.profiles import PublicProfile
from app.deals.schemas import DealRead, OfferRead
from app.listings.schemas import HoldSummary, ListingRead, PricePoint
from app.reservations.schemas import HoldRead, ReservationRead

# Money crosses the wire as a decimal string ("1250000.00"), never a float (API.md conventions).
Decimal = strawberry.scalar(
    NewType("Decimal", str),
    description='An amount as a decimal string with at most two decimal places, e.g. "1250000.00".',
    serialize=str,
    parse_value=lambda value: value if isinstance(value, str) else _not_a_string(value),
)


def _not_a_string(value: object) -> str:
    raise ValueError(f'Decimal must be a string such as "1250000.00", not {type(value).__name__}')


@strawberry.enum(description="A listing's lifecycle status (seed 000's four plus ours).")
class ListingStatus(enum.Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    UNDER_CONTRACT = "under_contract"
    SOLD = "sold"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@strawberry.type(description="What anyone may know about a user: no email, phone or account status.")
class User:
    id: strawberry.ID
    display_name: str
    company_name: str
    user_type: str
    verification_level: int
    member_since: datetime

    @strawberry.field(description="This user's listings in public view (their own drafts too, for them).")
    async def listings(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> AircraftListingConnection:
        from app.graphql.resolvers import seller_listings

        return await seller_listings(info, self.id, first=first, after=after)

    @staticmethod
    def of(profile: PublicProfile) -> User:
        return User(
            id=strawberry.ID(str(profile.id)),
            display_name=profile.display_name,
            company_name=profile.company_name,
            user_type=profile.user_type,
            verification_level=profile.verification_level,
            member_since=profile.member_since,
        )


@strawberry.type
class Location:
    country: str
    city: str
    latitude: float | None
    longitude: float | None


@strawberry.type
class AircraftImage:
    id: strawberry.ID | None
    url: str
    thumbnail_url: str | None
    width: int | None
    height: int | None


@strawberry.type
class AircraftSpecifications:
    engine_type: str | None
    engine_hours: int | None
    avionics: list[str]
    interior_configuration: str | None
    exterior_color: str | None
    max_passengers: int | None
    max_range_nm: int | None
    max_speed_kts: int | None
    useful_load_lbs: int | None
    category: str | None


@strawberry.type(description="The hold a listing is under now: until when (who holds it is private).")
class ListingHold:
    hold_id: strawberry.ID
    expires_at: datetime

    @staticmethod
    def of(hold: HoldSummary | None) -> ListingHold | None:
        if hold is None:
            return None
        return ListingHold(hold_id=strawberry.ID(str(hold.hold_id)), expires_at=hold.expires_at)


@strawberry.type
class PriceChange:
    price: Decimal
    currency: str
    changed_at: datetime

    @staticmethod
    def of(point: PricePoint) -> PriceChange:
        return PriceChange(price=Decimal(point.price), currency=point.currency, changed_at=point.changed_at)


def _image(raw: dict) -> AircraftImage:
    return AircraftImage(
        id=raw.get("id"),
        url=str(raw.get("url", "")),
        thumbnail_url=raw.get("thumbnailUrl"),
        width=raw.get("width"),
        height=raw.get("height"),
    )


@strawberry.type(description="An aircraft for sale (seed 000 §5.2); `aircraftModel` is REST's `model`.")
class AircraftListing:
    id: strawberry.ID
    seller_id: strawberry.ID
    aircraft_model: str
    manufacturer: str
    year_manufactured: int | None
    tail_number: str | None
    hours_total: int | None
    price: Decimal
    currency: str
    location: Location
    description: str | None
    status: ListingStatus
    featured: bool
    verified: bool
    images: list[AircraftImage]
    specifications: AircraftSpecifications | None
    hold: ListingHold | None
    version: int
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Who listed it (batched: one query for a whole page).")
    async def seller(self, info: Info) -> User:
        profile = await info.context.loaders.profiles.load(self.seller_id)
        return User.of(profile)

    @strawberry.field(description="Prices oldest first; the first is the opening price (batched).")
    async def price_history(self, info: Info) -> list[PriceChange]:
        points = await info.context.loaders.price_histories.load(self.id)
        return [PriceChange.of(p) for p in points]

    @strawberry.field(description="Offers on it: all for its seller side and admins, a buyer's own for them.")
    async def offers(self, info: Info, first: int = 20) -> list[Offer]:
        from app.graphql.resolvers import listing_offers

        return await listing_offers(info, self.id, first=first)

    @staticmethod
    def of(listing: ListingRead) -> AircraftListing:
        specs = listing.specifications
        return AircraftListing(
            id=strawberry.ID(str(listing.id)),
            seller_id=strawberry.ID(str(listing.seller_id)),
            aircraft_model=listing.model,
            manufacturer=listing.manufacturer,
            year_manufactured=listing.year_manufactured,
            tail_number=listing.tail_number,
            hours_total=listing.hours_total,
            price=Decimal(listing.price),
            currency=listing.currency,
            location=Location(
                country=listing.location_country,
                city=listing.location_city,
                latitude=specs.latitude,
                longitude=specs.longitude,
            ),
            description=listing.description,
            status=ListingStatus(listing.status),
            featured=listing.featured,
            verified=listing.verified,
            images=[_image(raw) for raw in listing.images],
            specifications=AircraftSpecifications(
                engine_type=specs.engine_type,
                engine_hours=specs.engine_hours,
                avionics=list(specs.avionics),
                interior_configuration=specs.interior_configuration,
                exterior_color=specs.exterior_color,
                max_passengers=specs.max_passengers,
                max_range_nm=specs.max_range_nm,
                max_speed_kts=specs.max_speed_kts,
                useful_load_lbs=specs.useful_load_lbs,
                category=specs.category,
            ),
            hold=ListingHold.of(listing.hold),
            version=listing.version,
            created_at=listing.created_at,
            updated_at=listing.updated_at,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class AircraftListingEdge:
    cursor: str
    node: AircraftListing


@strawberry.type(
    description="A Relay connection; cursors are the REST `cursor` values of `GET /api/listings`."
)
class AircraftListingConnection:
    edges: list[AircraftListingEdge]
    page_info: PageInfo


@strawberry.type(
    description="A broker's commission protection on (buyer, listing) — REST `POST /api/reservations`."
)
class CustomerReservation:
    id: strawberry.ID
    buyer_id: strawberry.ID
    broker_id: strawberry.ID
    listing_id: strawberry.ID
    status: str
    reserved_at: datetime
    expires_at: datetime

    @staticmethod
    def of(r: ReservationRead) -> CustomerReservation:
        return CustomerReservation(
            id=strawberry.ID(str(r.id)),
            buyer_id=strawberry.ID(str(r.buyer_id)),
            broker_id=strawberry.ID(str(r.broker_id)),
            listing_id=strawberry.ID(str(r.listing_id)),
            status=r.status,
            reserved_at=r.reserved_at,
            expires_at=r.expires_at,
        )


@strawberry.type(description="A buyer's hold on a listing — REST `POST /api/listings/{id}/holds`.")
class Hold:
    id: strawberry.ID
    listing_id: strawberry.ID
    buyer_id: strawberry.ID
    status: str
    expires_at: datetime

    @staticmethod
    def of(h: HoldRead) -> Hold:
        return Hold(
            id=strawberry.ID(str(h.id)),
            listing_id=strawberry.ID(str(h.listing_id)),
            buyer_id=strawberry.ID(str(h.buyer_id)),
            status=h.status,
            expires_at=h.expires_at,
        )


@strawberry.type
class OfferStep:
    by: str
    action: str
    amount: Decimal
    at: datetime
    message: str | None


@strawberry.type(description="An offer and its negotiation — REST `offer`.")
class Offer:
    id: strawberry.ID
    listing_id: strawberry.ID
    buyer_id: strawberry.ID
    seller_id: strawberry.ID
    broker_id: strawberry.ID | None
    amount: Decimal
    currency: str
    status: str
    turn: str
    conditions: JSON
    expires_at: datetime
    history: list[OfferStep]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(o: OfferRead) -> Offer:
        import msgspec

        return Offer(
            id=strawberry.ID(str(o.id)),
            listing_id=strawberry.ID(str(o.listing_id)),
            buyer_id=strawberry.ID(str(o.buyer_id)),
            seller_id=strawberry.ID(str(o.seller_id)),
            broker_id=strawberry.ID(str(o.broker_id)) if o.broker_id else None,
            amount=Decimal(o.amount),
            currency=o.currency,
            status=o.status,
            turn=o.turn,
            conditions=msgspec.to_builtins(o.conditions),
            expires_at=o.expires_at,
            history=[
                OfferStep(by=h.by, action=h.action, amount=Decimal(h.amount), at=h.at, message=h.message)
                for h in o.history
            ],
            created_at=o.created_at,
            updated_at=o.updated_at,
        )


@strawberry.type(description="A deal under contract, closed or fallen through — REST `deal`.")
class Deal:
    id: strawberry.ID
    listing_id: strawberry.ID
    offer_id: strawberry.ID
    buyer_id: strawberry.ID
    seller_id: strawberry.ID
    broker_id: strawberry.ID | None
    price: Decimal
    currency: str
    status: str
    deposit_amount: Decimal
    deposit_status: str
    commission_rate: str
    commission_amount: Decimal | None
    created_at: datetime
    closed_at: datetime | None

    @staticmethod
    def of(d: DealRead) -> Deal:
        return Deal(
            id=strawberry.ID(str(d.id)),
            listing_id=strawberry.ID(str(d.listing_id)),
            offer_id=strawberry.ID(str(d.offer_id)),
            buyer_id=strawberry.ID(str(d.buyer_id)),
            seller_id=strawberry.ID(str(d.seller_id)),
            broker_id=strawberry.ID(str(d.broker_id)) if d.broker_id else None,
            price=Decimal(d.price),
            currency=d.currency,
            status=d.status,
            deposit_amount=Decimal(d.deposit.amount),
            deposit_status=d.deposit.status,
            commission_rate=d.commission.rate,
            commission_amount=Decimal(d.commission.amount) if d.commission.amount else None,
            created_at=d.created_at,
            closed_at=d.closed_at,
        )


@strawberry.type
class AcceptedOffer:
    offer: Offer
    deal: Deal


@strawberry.type(description="One event of a listing channel, as `/ws` delivers it (`seq` resumes it).")
class ListingEvent:
    channel: str
    seq: int
    id: strawberry.ID
    type: str
    occurred_at: datetime
    listing_id: strawberry.ID | None
    data: JSON
    listing: AircraftListing | None = strawberry.field(
        description="The listing as of this event, when the event carries it (listing.created/updated)."
    )

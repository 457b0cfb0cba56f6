"""Root fields: each is one REST call's twin, calling the same service function with the same caller.

`key_route` names the REST route a field mirrors so that an API key's scopes mean the same here.
"""

from __future__ import annotations

import uuid

from strawberry.types import Info

from app.deals import contracts
from app.deals import queries as offer_queries
from app.deals import service as deals
from app.deals.jobs import schedule_expiry
from app.deals.schemas import OfferCounter, OfferCreate
from app.graphql.context import key_route, signed_in, viewer
from app.graphql.inputs import (
    _LIST_SORTS,
    _SEARCH_SORTS,
    AircraftFilter,
    CreateAircraftListingInput,
    PaginationInput,
    SortOptions,
    UpdateAircraftListingInput,
    checked,
    create_body,
    listing_filters,
    page_args,
    search_query,
    sort_name,
    update_body,
    uuid_of,
)
from app.graphql.types import (
    AcceptedOffer,
    AircraftListing,
    AircraftListingConnection,
    AircraftListingEdge,
    CustomerReservation,
    Deal,
    Hold,
    Offer,
    PageInfo,
)
from app.listings import service as listings
from app.listings import stats
from app.listings.schemas import ListingCreate, ListingUpdate
from app.reservations import customers
from app.reservations import service as reservations
from app.reservations.jobs import schedule_expiries
from app.reservations.schemas import HoldCreate, ReservationCreate
from app.search import service as search

LISTINGS = "/api/listings/"
LISTING = "/api/listings/{listing_id:uuid}"


def _connection(page, sort: str) -> AircraftListingConnection:
    edges = [
        AircraftListingEdge(cursor=listings.listing_cursor(item, sort), node=AircraftListing.of(item))
        for item in page.items
    ]
    return AircraftListingConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def aircraft_listings(
    info: Info,
    filter: AircraftFilter | None,
    sort: SortOptions | None,
    pagination: PaginationInput | None,
    first: int | None,
    after: str | None,
) -> AircraftListingConnection:
    who = await viewer(info)
    key_route(who, "GET", LISTINGS)
    name = sort_name(sort, _LIST_SORTS, "newest")
    limit, cursor = page_args(first, after, pagination)
    page = await listings.list_listings(listing_filters(filter, name), limit=limit, cursor=cursor, viewer=who)
    return _connection(page, name)


async def seller_listings(info: Info, seller_id: str, *, first: int, after: str | None):
    who = await viewer(info)
    key_route(who, "GET", LISTINGS)
    limit, cursor = page_args(first, after, None)
    filters = listings.ListingFilters(seller_id=uuid.UUID(seller_id), sort="newest")
    page = await listings.list_listings(filters, limit=limit, cursor=cursor, viewer=who)
    return _connection(page, "newest")


async def aircraft_listing(info: Info, id: str) -> AircraftListing:
    """`not_found`, like REST, for a listing that does not exist or that the caller may not see."""
    who = await viewer(info)
    key_route(who, "GET", LISTING)
    listing = await listings.get_listing(uuid_of(id, "id"), who)
    request = info.context.request
    client_host = request.client.host if request is not None and request.client else None
    stats.VIEWS.count(listing, who, client_host)
    return AircraftListing.of(listing)


async def search_aircraft(
    info: Info, query: str, filters: AircraftFilter | None, sort: SortOptions | None, first: int
) -> list[AircraftListing]:
    who = await viewer(info)
    key_route(who, "GET", "/api/search/")
    name = sort_name(sort, _SEARCH_SORTS, "relevance" if query.strip() else "newest")
    limit, _ = page_args(first, None, None)
    backend = search.backend_of(info.context.state)
    result = await search.search(backend, search_query(query, filters, name, limit, None), who)
    return [AircraftListing.of(item) for item in result.items]


async def create_listing(info: Info, data: CreateAircraftListingInput, draft: bool) -> AircraftListing:
    principal = await signed_in(info)
    key_route(principal, "POST", LISTINGS)
    body = checked(create_body(data), ListingCreate, "input")
    return AircraftListing.of(await listings.create_listing(principal, body, draft=draft))


async def update_listing(
    info: Info, id: str, data: UpdateAircraftListingInput, expected_version: int | None
) -> AircraftListing:
    principal = await signed_in(info)
    key_route(principal, "PATCH", LISTING)
    body = checked(update_body(data), ListingUpdate, "input")
    listing = await listings.update_listing(principal, uuid_of(id, "id"), body, if_match=expected_version)
    return AircraftListing.of(listing)


async def delete_listing(info: Info, id: str) -> bool:
    principal = await signed_in(info)
    key_route(principal, "DELETE", LISTING)
    await listings.withdraw_listing(principal, uuid_of(id, "id"))
    return True


async def reserve_customer(info: Info, buyer_id: str, listing_id: str, days: int) -> CustomerReservation:
    principal = await signed_in(info)
    key_route(principal, "POST", "/api/reservations/")
    body = checked(
        {
            "buyerId": str(uuid_of(buyer_id, "buyerId")),
            "listingId": str(uuid_of(listing_id, "listingId")),
            "days": days,
        },
        ReservationCreate,
        "",
    )
    reservation, due = await customers.create_reservation(principal, body)
    await schedule_expiries(info.context.state.redis, due)
    return CustomerReservation.of(reservation)


async def place_hold(info: Info, listing_id: str, hours: int) -> Hold:
    principal = await signed_in(info)
    key_route(principal, "POST", "/api/listings/{listing_id:uuid}/holds")
    body = checked({"hours": hours}, HoldCreate, "")
    hold, due = await reservations.place_hold(principal, uuid_of(listing_id, "listingId"), body)
    await schedule_expiries(info.context.state.redis, due)
    return Hold.of(hold)


async def release_hold(info: Info, id: str) -> bool:
    principal = await signed_in(info)
    key_route(principal, "DELETE", "/api/holds/{hold_id:uuid}")
    due = await reservations.release_hold(principal, uuid_of(id, "id"))
    await schedule_expiries(info.context.state.redis, due)
    return True


async def listing_offers(info: Info, listing_id: str, *, first: int) -> list[Offer]:
    principal = await signed_in(info)
    key_route(principal, "GET", "/api/listings/{listing_id:uuid}/offers")
    limit, _ = page_args(first, None, None)
    page = await offer_queries.list_listing_offers(
        principal, uuid.UUID(listing_id), status=None, limit=limit, cursor=None
    )
    return [Offer.of(o) for o in page.items]


async def my_offers(info: Info, role: str | None, first: int, after: str | None) -> list[Offer]:
    principal = await signed_in(info)
    key_route(principal, "GET", "/api/offers/")
    limit, cursor = page_args(first, after, None)
    page = await offer_queries.list_my_offers(principal, role=role, status=None, limit=limit, cursor=cursor)  # type: ignore[arg-type]
    return [Offer.of(o) for o in page.items]


async def deal(info: Info, id: str) -> Deal:
    principal = await signed_in(info)
    key_route(principal, "GET", "/api/deals/{deal_id:uuid}")
    return Deal.of(await contracts.get_deal(principal, uuid_of(id, "id")))


async def make_offer(info: Info, listing_id: str, amount: str, currency: str, message: str | None) -> Offer:
    principal = await signed_in(info)
    key_route(principal, "POST", "/api/listings/{listing_id:uuid}/offers")
    body = checked({"amount": amount, "currency": currency, "message": message}, OfferCreate, "")
    offer, due = await deals.create_offer(principal, uuid_of(listing_id, "listingId"), body)
    await schedule_expiry(info.context.state.redis, due)
    return Offer.of(offer)


async def counter_offer(info: Info, id: str, amount: str, message: str | None) -> Offer:
    principal = await signed_in(info)
    key_route(principal, "POST", "/api/offers/{offer_id:uuid}/counter")
    body = checked({"amount": amount, "message": message}, OfferCounter, "")
    return Offer.of(await deals.counter_offer(principal, uuid_of(id, "id"), body))


async def accept_offer(info: Info, id: str) -> AcceptedOffer:
    principal = await signed_in(info)
    key_route(principal, "POST", "/api/offers/{offer_id:uuid}/accept")
    accepted = await deals.accept_offer(principal, uuid_of(id, "id"))
    return AcceptedOffer(offer=Offer.of(accepted.offer), deal=Deal.of(accepted.deal))

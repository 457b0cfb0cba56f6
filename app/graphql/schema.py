"""The schema: seed 000 §5.2's queries and mutations, our holds, offers and deals, and live listings.

`print_schema()` is what `docs/schema.graphql` holds (tests/graphql/test_schema_file.py keeps them equal).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from app.graphql import live, resolvers
from app.graphql.context import session_of, socket_reader
from app.graphql.inputs import (
    AircraftFilter,
    CreateAircraftListingInput,
    PaginationInput,
    SortOptions,
    UpdateAircraftListingInput,
    uuid_of,
)
from app.graphql.limits import OperationLimits, PersistedQueries, ProblemCodes, log_unexpected
from app.graphql.loaders import Loaders
from app.graphql.types import (
    AcceptedOffer,
    AircraftListing,
    AircraftListingConnection,
    CustomerReservation,
    Deal,
    Decimal,
    Hold,
    ListingEvent,
    Offer,
)
from realtime import channels

# Tokens one document may have: parsing stops there (`query_too_complex`); the complexity rule
# refuses most over-wide documents first (10,000 aliased fields are ~30,000 tokens).
MAX_TOKENS = 40_000


@strawberry.enum
class OfferRole(enum.Enum):
    BUYER = "buyer"
    SELLER = "seller"


@strawberry.type
class Query:
    @strawberry.field(
        description="Filtered, sorted listings as a Relay connection (REST `GET /api/listings`)."
    )
    async def aircraft_listings(
        self,
        info: Info,
        filter: AircraftFilter | None = None,
        sort: SortOptions | None = None,
        pagination: PaginationInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AircraftListingConnection:
        return await resolvers.aircraft_listings(info, filter, sort, pagination, first, after)

    @strawberry.field(description="One listing (REST `GET /api/listings/{id}`); `not_found` when hidden.")
    async def aircraft_listing(self, info: Info, id: strawberry.ID) -> AircraftListing | None:
        return await resolvers.aircraft_listing(info, id)

    @strawberry.field(description="Typo-tolerant search with the same filters (REST `GET /api/search`).")
    async def search_aircraft(
        self,
        info: Info,
        query: str,
        filters: AircraftFilter | None = None,
        sort: SortOptions | None = None,
        first: int = 20,
    ) -> list[AircraftListing]:
        return await resolvers.search_aircraft(info, query, filters, sort, first)

    @strawberry.field(description="The caller's offers, made (BUYER) or received (SELLER), or both.")
    async def my_offers(
        self, info: Info, role: OfferRole | None = None, first: int = 20, after: str | None = None
    ) -> list[Offer]:
        return await resolvers.my_offers(info, role.value if role else None, first, after)

    @strawberry.field(description="One deal (its parties, admins).")
    async def deal(self, info: Info, id: strawberry.ID) -> Deal | None:
        return await resolvers.deal(info, id)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="List an aircraft (seller or broker, verification level ≥ 1).")
    async def create_aircraft_listing(
        self, info: Info, input: CreateAircraftListingInput, draft: bool = False
    ) -> AircraftListing:
        return await resolvers.create_listing(info, input, draft)

    @strawberry.mutation(description="Change a listing (owner, admin); `expectedVersion` is REST's If-Match.")
    async def update_aircraft_listing(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateAircraftListingInput,
        expected_version: int | None = None,
    ) -> AircraftListing:
        return await resolvers.update_listing(info, id, input, expected_version)

    @strawberry.mutation(description="Withdraw a listing (owner, admin): REST `DELETE /api/listings/{id}`.")
    async def delete_aircraft_listing(self, info: Info, id: strawberry.ID) -> bool:
        return await resolvers.delete_listing(info, id)

    @strawberry.mutation(
        description="A broker reserves a buyer for a listing (REST `POST /api/reservations`)."
    )
    async def reserve_customer(
        self, info: Info, buyer_id: strawberry.ID, listing_id: strawberry.ID, days: int = 30
    ) -> CustomerReservation:
        return await resolvers.reserve_customer(info, buyer_id, listing_id, days)

    @strawberry.mutation(
        description="Hold a listing (buyer, verification level ≥ 2); one concurrent caller wins."
    )
    async def place_hold(self, info: Info, listing_id: strawberry.ID, hours: int = 48) -> Hold:
        return await resolvers.place_hold(info, listing_id, hours)

    @strawberry.mutation(description="Release a hold (holder, listing owner, admin).")
    async def release_hold(self, info: Info, id: strawberry.ID) -> bool:
        return await resolvers.release_hold(info, id)

    @strawberry.mutation(description="Make an offer (buyer, verification level ≥ 2).")
    async def make_offer(
        self,
        info: Info,
        listing_id: strawberry.ID,
        amount: Decimal,
        currency: str,
        message: str | None = None,
    ) -> Offer:
        return await resolvers.make_offer(info, listing_id, amount, currency, message)

    @strawberry.mutation(description="Counter an offer (the party whose turn it is).")
    async def counter_offer(
        self, info: Info, id: strawberry.ID, amount: Decimal, message: str | None = None
    ) -> Offer:
        return await resolvers.counter_offer(info, id, amount, message)

    @strawberry.mutation(description="Accept an offer (the party whose turn it is): a deal under contract.")
    async def accept_offer(self, info: Info, id: strawberry.ID) -> AcceptedOffer:
        return await resolvers.accept_offer(info, id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A listing's events (`/ws` channel `listing:<id>`); `since` = the last seq you saw."
    )
    async def listing_updated(
        self, info: Info, id: strawberry.ID, since: int | None = None
    ) -> AsyncGenerator[ListingEvent, None]:
        reader = await socket_reader(info)
        channel = channels.listing(uuid_of(id, "id"))
        async for event in live.listing_events(info, reader, session_of(reader), channel, since):
            yield event

    @strawberry.subscription(
        description="The public feed of listing changes (`/ws` channel `listings`), narrowed by `filter`."
    )
    async def listings_feed(
        self, info: Info, filter: AircraftFilter | None = None, since: int | None = None
    ) -> AsyncGenerator[ListingEvent, None]:
        reader = await socket_reader(info)
        channel = channels.listings_feed()
        async for event in live.listing_events(info, reader, session_of(reader), channel, since, filter):
            yield event


class OperationLoaders(SchemaExtension):
    """Fresh DataLoaders for every operation (a socket's operations share one context)."""

    def on_execute(self):
        context = self.execution_context.context
        if context is not None and not isinstance(context, dict):
            context.loaders = Loaders()
        yield


class ApiSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        log_unexpected(errors)  # a client's mistake is not worth a log line; our bugs are


def build_schema(*, production: bool = False, allowlist: dict[str, str] | None = None) -> ApiSchema:
    """The schema with its limits: introspection off in production, an allowlist when one is given."""
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([OperationLimits]),
        OperationLoaders,
        ProblemCodes,
    ]
    if production:
        extensions.append(DisableIntrospection)
    if allowlist is not None:
        extensions.insert(0, type("Allowlist", (PersistedQueries,), {"allowlist": allowlist}))
    return ApiSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


def print_schema() -> str:
    return build_schema().as_str() + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(print_schema())

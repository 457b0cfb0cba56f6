"""HTTP endpoints of offers and deals (API.md "Offers and deals")."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.idempotency import idempotent
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.deals import contracts, dashboard, queries, service
from app.deals.dashboard import DashboardState
from app.deals.jobs import schedule_expiry
from app.deals.schemas import (
    AcceptRead,
    DealRead,
    FallThrough,
    OfferCounter,
    OfferCreate,
    OfferRead,
    OfferStatus,
)
from app.payments import service as payments
from app.payments.schemas import PaymentRead

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=500)]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", max_length=200, description="a retry with the same key gets the first answer"
    ),
]


class OfferController(Controller):
    path = "/api"
    tags = ["offers"]

    @post(
        "/listings/{listing_id:uuid}/offers",
        security=SECURED,
        status_code=201,
        summary="Make an offer on a listing (buyer, verification level ≥ 2)",
    )
    async def make_offer(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        listing_id: FromPath[uuid.UUID],
        data: JSONBody[OfferCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OfferRead]:
        async def run() -> OfferRead:
            offer, due = await service.create_offer(principal, listing_id, data)
            await schedule_expiry(redis, due)
            return offer

        scope = f"{principal.user_id}:POST {request.url.path}"
        return await idempotent(idempotency_key, scope=scope, body=await request.body(), run=run)

    @get(
        "/listings/{listing_id:uuid}/offers",
        security=SECURED,
        summary="A listing's offers (seller side: all)",
    )
    async def list_listing_offers(
        self,
        principal: NamedDependency[Principal],
        listing_id: FromPath[uuid.UUID],
        status: Annotated[OfferStatus | None, QueryParameter()] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[OfferRead]:
        return await queries.list_listing_offers(
            principal, listing_id, status=status, limit=limit, cursor=cursor
        )

    @get("/offers", security=SECURED, summary="The caller's offers, made (buyer) or received (seller)")
    async def list_my_offers(
        self,
        principal: NamedDependency[Principal],
        role: Annotated[Literal["buyer", "seller"] | None, QueryParameter()] = None,
        status: Annotated[OfferStatus | None, QueryParameter()] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[OfferRead]:
        return await queries.list_my_offers(principal, role=role, status=status, limit=limit, cursor=cursor)

    @get("/offers/{offer_id:uuid}", security=SECURED, summary="One offer (its parties, admin)")
    async def get_offer(
        self, principal: NamedDependency[Principal], offer_id: FromPath[uuid.UUID]
    ) -> OfferRead:
        return await queries.get_offer(principal, offer_id)

    @post(
        "/offers/{offer_id:uuid}/counter",
        security=SECURED,
        status_code=200,
        summary="Counter (whose turn it is)",
    )
    async def counter_offer(
        self,
        principal: NamedDependency[Principal],
        offer_id: FromPath[uuid.UUID],
        data: JSONBody[OfferCounter],
    ) -> OfferRead:
        return await service.counter_offer(principal, offer_id, data)

    @post(
        "/offers/{offer_id:uuid}/accept",
        security=SECURED,
        status_code=200,
        summary="Accept (whose turn it is): a deal, listing under contract; one winner per listing",
    )
    async def accept_offer(
        self, principal: NamedDependency[Principal], offer_id: FromPath[uuid.UUID]
    ) -> AcceptRead:
        return await service.accept_offer(principal, offer_id)

    @post("/offers/{offer_id:uuid}/reject", security=SECURED, status_code=200, summary="Reject (seller side)")
    async def reject_offer(
        self, principal: NamedDependency[Principal], offer_id: FromPath[uuid.UUID]
    ) -> OfferRead:
        return await service.reject_offer(principal, offer_id)

    @post(
        "/offers/{offer_id:uuid}/withdraw", security=SECURED, status_code=200, summary="Withdraw (the buyer)"
    )
    async def withdraw_offer(
        self, principal: NamedDependency[Principal], offer_id: FromPath[uuid.UUID]
    ) -> OfferRead:
        return await service.withdraw_offer(principal, offer_id)


class DealController(Controller):
    path = "/api/deals"
    tags = ["deals"]

    @get("/", security=SECURED, summary="The caller's deals, newest first")
    async def list_deals(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[
            Literal["under_contract", "closed", "fallen_through"] | None, QueryParameter()
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[DealRead]:
        return await contracts.list_deals(principal, status=status, limit=limit, cursor=cursor)

    @get("/{deal_id:uuid}", security=SECURED, summary="One deal (its parties, admin)")
    async def get_deal(self, principal: NamedDependency[Principal], deal_id: FromPath[uuid.UUID]) -> DealRead:
        return await contracts.get_deal(principal, deal_id)

    @post(
        "/{deal_id:uuid}/deposit",
        security=SECURED,
        status_code=201,
        summary="Start paying the deposit (buyer)",
    )
    async def pay_deposit(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        deal_id: FromPath[uuid.UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentRead]:
        async def run() -> PaymentRead:
            return await payments.start_deposit(request.app.state.payments, principal, deal_id)

        scope = f"{principal.user_id}:POST {request.url.path}"
        return await idempotent(idempotency_key, scope=scope, body=b"", run=run)

    @post("/{deal_id:uuid}/close", security=SECURED, status_code=200, summary="Close (seller side, admin)")
    async def close_deal(
        self, principal: NamedDependency[Principal], deal_id: FromPath[uuid.UUID]
    ) -> DealRead:
        return await contracts.close_deal(principal, deal_id)

    @post(
        "/{deal_id:uuid}/fall-through", security=SECURED, status_code=200, summary="Fall through (any party)"
    )
    async def fall_through(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        deal_id: FromPath[uuid.UUID],
        data: JSONBody[FallThrough],
    ) -> DealRead:
        deal, refund = await contracts.fall_through(principal, deal_id, data.reason)
        if refund is not None:
            await payments.refund_after_commit(request.app.state.payments, refund)
        return deal


class DashboardController(Controller):
    path = "/api/dashboard"
    tags = ["deals"]

    @get(
        "/state",
        security=SECURED,
        summary="What a broker's or seller's dashboard opens with: listings with counters, open deals, "
        "incoming offers, clients' holds",
    )
    async def dashboard_state(
        self, principal: NamedDependency[Principal], redis: NamedDependency[Redis]
    ) -> DashboardState:
        return await dashboard.state(principal, redis)

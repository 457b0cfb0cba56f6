"""HTTP endpoints of holds, the waitlist and customer reservations (API.md "Reservations")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.idempotency import idempotent
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.reservations import customers, queries, service
from app.reservations.jobs import schedule_expiries
from app.reservations.schemas import (
    HoldCreate,
    HoldRead,
    HoldStatus,
    ReservationCreate,
    ReservationRead,
    WaitlistMe,
    WaitlistRead,
)

SECURED = [{"BearerToken": []}, {"ApiKey": []}]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", max_length=200, description="a retry with the same key gets the first answer"
    ),
]


def _scope(principal: Principal, request: Request) -> str:
    return f"{principal.user_id}:POST {request.url.path}"


class HoldController(Controller):
    path = "/api"
    tags = ["reservations"]

    @post(
        "/listings/{listing_id:uuid}/holds",
        security=SECURED,
        status_code=201,
        summary="Hold a listing (buyer, verification level ≥ 2); exactly one concurrent caller wins",
    )
    async def place_hold(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        listing_id: FromPath[uuid.UUID],
        data: JSONBody[HoldCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[HoldRead]:
        async def run() -> HoldRead:
            hold, due = await service.place_hold(principal, listing_id, data)
            await schedule_expiries(redis, due)
            return hold

        body = await request.body()
        return await idempotent(idempotency_key, scope=_scope(principal, request), body=body, run=run)

    @delete(
        "/holds/{hold_id:uuid}", security=SECURED, summary="Release a hold (holder, listing owner, admin)"
    )
    async def release_hold(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        hold_id: FromPath[uuid.UUID],
    ) -> None:
        await schedule_expiries(redis, await service.release_hold(principal, hold_id))

    @post(
        "/listings/{listing_id:uuid}/waitlist",
        security=SECURED,
        status_code=201,
        summary="Join the line for a listing (verified buyer)",
    )
    async def join_waitlist(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> WaitlistRead:
        return await service.join_waitlist(principal, listing_id)

    @get("/holds", security=SECURED, summary="The caller's own holds, newest first")
    async def list_my_holds(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[HoldStatus | None, QueryParameter(description="only holds in this state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[HoldRead]:
        return await queries.list_my_holds(principal, status=status, limit=limit, cursor=cursor)

    @get("/waitlists", security=SECURED, summary="The lines the caller waits in, with their place")
    async def list_my_waitlists(self, principal: NamedDependency[Principal]) -> list[WaitlistRead]:
        return await queries.list_my_waitlists(principal)

    @get(
        "/listings/{listing_id:uuid}/waitlist/me",
        security=SECURED,
        summary="The caller's place in line for a listing (404 `not_waitlisted` when not in it)",
    )
    async def my_waitlist_place(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> WaitlistMe:
        return await queries.my_waitlist_place(principal, listing_id)

    @delete("/listings/{listing_id:uuid}/waitlist", security=SECURED, summary="Leave the line for a listing")
    async def leave_waitlist(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> None:
        await service.leave_waitlist(principal, listing_id)


class ReservationController(Controller):
    path = "/api/reservations"
    tags = ["reservations"]

    @post("/", security=SECURED, status_code=201, summary="Reserve a buyer for a listing (broker)")
    async def create_reservation(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        data: JSONBody[ReservationCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReservationRead]:
        async def run() -> ReservationRead:
            reservation, due = await customers.create_reservation(principal, data)
            await schedule_expiries(redis, due)
            return reservation

        body = await request.body()
        return await idempotent(idempotency_key, scope=_scope(principal, request), body=body, run=run)

    @get("/", security=SECURED, summary="Own reservations: a buyer sees their broker, a broker their clients")
    async def list_reservations(
        self,
        principal: NamedDependency[Principal],
        listing_id: Annotated[uuid.UUID | None, QueryParameter(name="listingId")] = None,
    ) -> list[ReservationRead]:
        return await customers.list_reservations(principal, listing_id)

    @delete("/{reservation_id:uuid}", security=SECURED, summary="Cancel a reservation (that broker, admin)")
    async def cancel_reservation(
        self, principal: NamedDependency[Principal], reservation_id: FromPath[uuid.UUID]
    ) -> None:
        await customers.cancel_reservation(principal, reservation_id)

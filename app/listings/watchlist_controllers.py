"""HTTP endpoints of the watchlist (API.md "Watchlist")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from app.auth.principal import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.listings import watchlist
from app.listings.schemas import WatchedIds, WatchRead

SECURED = [{"BearerToken": []}, {"ApiKey": []}]


class WatchlistController(Controller):
    path = "/api/watchlist"
    tags = ["listings"]
    security = SECURED

    @get("/", summary="My watchlist, newest first: each aircraft as it is now, or unavailable")
    async def my_watchlist(
        self,
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Page[WatchRead]:
        return await watchlist.watchlist(principal, limit=limit, cursor=cursor)

    @get("/ids", summary="Which of these listings I watch (at most 100 ids)")
    async def watched_ids(
        self,
        principal: NamedDependency[Principal],
        ids: Annotated[list[uuid.UUID], QueryParameter(description="listing ids, at most 100")],
    ) -> WatchedIds:
        if len(ids) > MAX_LIMIT:
            raise ValidationFailed(
                f"at most {MAX_LIMIT} ids", errors=[{"field": "ids", "message": f"at most {MAX_LIMIT}"}]
            )
        return WatchedIds(listing_ids=await watchlist.watched_ids(principal, list(dict.fromkeys(ids))))

    @put(
        "/{listing_id:uuid}",
        summary="Watch a listing (201 when new, 200 when already watched)",
        responses={201: ResponseSpec(data_container=WatchRead, description="Now watched")},
    )
    async def watch_listing(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> Response[WatchRead]:
        watch, created = await watchlist.watch(principal, listing_id)
        return Response(watch, status_code=201 if created else 200)

    @delete("/{listing_id:uuid}", summary="Stop watching a listing (204 whether or not it was watched)")
    async def unwatch_listing(
        self, principal: NamedDependency[Principal], listing_id: FromPath[uuid.UUID]
    ) -> None:
        await watchlist.unwatch(principal, listing_id)

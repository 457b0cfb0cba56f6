"""Who is calling a GraphQL operation, resolved once per request (or socket) the way REST does it.

Over HTTP the credentials are the REST headers (`Authorization: Bearer`, `X-API-Key`); over the
`graphql-transport-ws` socket they come in the `connection_init` payload (`Authorization`, `X-API-Key`,
or a `/ws` ticket). An API key's scopes are checked per field against the REST route the field mirrors
(`key_route`), so a key may do through GraphQL exactly what it may do through REST.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from graphql import OperationType
from litestar import Request, WebSocket
from strawberry.litestar import BaseContext
from strawberry.types import Info

from app.auth.principal import Principal, authenticate, count_api_call
from app.auth.scopes import check_key_route
from app.core.errors import NotAuthenticated
from realtime.connection import Session
from realtime.tickets import redeem_ticket


class GraphQLContext(BaseContext, kw_only=True):
    """One per HTTP request, or one per socket shared by its operations."""

    connection_params: dict | None = None
    loaders: Any = None  # app.graphql.loaders.Loaders, fresh for every operation
    caller: Any = None  # the future of the caller's Principal (None = anonymous)
    ticket_session: Any = None  # a socket opened with a `/ws` ticket: who it was issued to

    @property
    def state(self) -> Any:
        source: Request | WebSocket | None = self.request or self.websocket
        assert source is not None
        return source.app.state


async def make_context() -> GraphQLContext:
    return GraphQLContext()


def _param(params: dict, *names: str) -> str | None:
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return None


async def _authenticate(ctx: GraphQLContext, *, fail_open: bool) -> Principal | None:
    if ctx.request is not None:
        headers = ctx.request.headers
        authorization, api_key = headers.get("authorization"), headers.get("x-api-key")
    else:
        params = ctx.connection_params or {}
        authorization = _param(params, "Authorization", "authorization")
        api_key = _param(params, "X-API-Key", "x-api-key", "apiKey")
    principal = await authenticate(ctx.state, authorization, api_key, fail_open=fail_open)
    if principal is not None:
        await count_api_call(ctx.state, principal)
    return principal


async def viewer(info: Info) -> Principal | None:
    """The caller, None when anonymous; 401 (`invalid_token`, …) when credentials are bad."""
    ctx: GraphQLContext = info.context
    if ctx.caller is None:
        fail_open = info.operation.operation != OperationType.MUTATION
        ctx.caller = asyncio.ensure_future(_authenticate(ctx, fail_open=fail_open))
    return await asyncio.shield(ctx.caller)


async def signed_in(info: Info) -> Principal:
    """The caller; 401 `not_authenticated` for anonymous calls."""
    principal = await viewer(info)
    if principal is None:
        raise NotAuthenticated("this operation needs 'Authorization: Bearer <token>' or 'X-API-Key'")
    return principal


def key_route(principal: Principal | None, method: str, route: str) -> None:
    """An API key may use a field only if it may call the REST route the field mirrors."""
    if principal is not None and principal.scopes is not None:
        check_key_route(principal.scopes, method, route)


async def socket_reader(info: Info) -> Principal | Session | None:
    """Who reads a subscription: the Bearer/API-key caller, else the holder of a `/ws` ticket."""
    principal = await viewer(info)
    if principal is not None:
        return principal
    ctx: GraphQLContext = info.context
    if ctx.ticket_session is None and ctx.websocket is not None:
        ticket = _param(ctx.connection_params or {}, "ticket")
        if ticket is not None:
            session = await redeem_ticket(ctx.state.realtime.redis, ticket)
            if session is None:
                raise NotAuthenticated("invalid, expired or used ticket", code="invalid_ticket")
            ctx.ticket_session = session
    return ctx.ticket_session


def session_of(reader: Principal | Session | None) -> Session | None:
    """The realtime Session of a reader: what the periodic session check needs to end a revoked one."""
    if reader is None or isinstance(reader, Session):
        return reader
    return Session(
        user_id=reader.user_id,
        is_admin=reader.is_admin,
        jti=reader.jti,
        issued_at=time.time(),
        family=str(reader.family_id) if reader.family_id else None,
    )

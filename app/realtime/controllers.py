"""`POST /api/realtime/ticket`: a single-use ticket that opens `/ws` as the caller."""

from __future__ import annotations

import time

from litestar import Controller, Request, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency

from app.auth.principal import Principal
from app.core.schema import Schema
from realtime.connection import Session
from realtime.runtime import Realtime
from realtime.tickets import issue_ticket


class TicketRead(Schema):
    ticket: str
    expires_in: int


class RealtimeController(Controller):
    path = "/api/realtime"
    tags = ["realtime"]

    @post("/ticket", status_code=201, cache_control=CacheControlHeader(no_store=True))
    async def create_ticket(self, request: Request, principal: NamedDependency[Principal]) -> TicketRead:
        """Connect to `/ws?ticket=<ticket>` within `expiresIn` seconds; the ticket works once."""
        rt: Realtime = request.app.state.realtime
        session = Session(
            user_id=principal.user_id,
            is_admin=principal.is_admin,
            jti=principal.jti,
            issued_at=time.time(),
            family=str(principal.family_id) if principal.family_id else None,
        )
        ttl = rt.config.ticket_ttl_s
        return TicketRead(ticket=await issue_ticket(rt.redis, session, ttl), expires_in=ttl)

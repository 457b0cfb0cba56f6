"""Realtime in the app: the ticket endpoint, `/ws`, `/metrics` and the lifespan that runs them."""

from app.realtime.controllers import RealtimeController
from app.realtime.service import realtime_lifespan
from realtime.gateway import ROUTE_HANDLERS


def realtime_handlers() -> list:
    """Route handlers for create_app()."""
    return [RealtimeController, *ROUTE_HANDLERS]


__all__ = ["realtime_handlers", "realtime_lifespan"]

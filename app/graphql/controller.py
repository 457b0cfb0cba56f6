"""`/graphql` on the app: POST (and GET for queries), `graphql-transport-ws` subscriptions on the same path."""

from __future__ import annotations

from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.graphql.context import make_context
from app.graphql.limits import load_allowlist
from app.graphql.schema import build_schema
from app.settings import Settings


def graphql_controller(settings: Settings) -> type:
    """GraphiQL in development only; introspection off in production; the allowlist when configured."""
    schema = build_schema(
        production=settings.is_production,
        allowlist=load_allowlist(settings.graphql_allowlist) if settings.graphql_allowlist else None,
    )
    controller = make_graphql_controller(
        schema,
        path="/graphql",
        graphql_ide="graphiql" if settings.environment == "development" else None,
        context_getter=make_context,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        # Browsers on other sites may open the socket only when listed (the `/ws` rule).
        allowed_origins=settings.ws_allowed_origins,
        max_subscriptions_per_connection=100,
    )
    controller.tags = ["graphql"]
    controller.include_in_schema = False
    return controller

"""The application factory: importing this module starts nothing; `create_app()` wires everything."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import Redis

from app.accounts.schemas import openapi_refinements
from app.auth.principal import provide_optional_principal, provide_principal
from app.auth.tokens import TokenSigner, load_or_create_key
from app.core import tracing
from app.core.crypto import load_keyring
from app.core.db import engine, start_pool
from app.core.deps import provide_redis, provide_settings, provide_signer
from app.core.edge import edge_middleware
from app.core.errors import EXCEPTION_HANDLERS
from app.core.logging import configure_logging
from app.core.metrics import HttpMetrics
from app.core.openapi import document_problem_responses, fix_options_allow_headers
from app.payments.providers import build_provider
from app.realtime import realtime_lifespan
from app.settings import Settings, get_settings
from app.web import compression_config, not_found

log = logging.getLogger("atp")


def _routers(settings: Settings) -> list:
    from app.accounts.controllers import AuthController, MeController, ProfileController
    from app.accounts.identity_controllers import IdentityController, OAuthController
    from app.admin.controllers import AdminController
    from app.analytics.controllers import (
        AnalyticsController,
        ListingAnalyticsController,
        RiskAdminController,
        ValuationController,
    )
    from app.deals.controllers import DashboardController, DealController, OfferController
    from app.graphql.controller import graphql_controller
    from app.listings.controllers import ListingController
    from app.listings.detail_controllers import ListingDetailController
    from app.listings.watchlist_controllers import WatchlistController
    from app.media.controllers import MediaController
    from app.messaging.controllers import CONTROLLERS as MESSAGING_CONTROLLERS
    from app.notifications.controllers import (
        DeadLetterController,
        NotificationController,
        PushController,
        TelegramController,
    )
    from app.payments.controllers import LedgerAdminController, PaymentController, PlanController
    from app.realtime import realtime_handlers
    from app.reports.controllers import ReportController
    from app.reservations.controllers import HoldController, ReservationController
    from app.search.controllers import SavedSearchController, SearchController
    from app.system.controllers import SystemController
    from app.verification.controllers import VerificationAdminController, VerificationController
    from app.web import web_handlers
    from app.webhooks.controllers import WebhookController

    return [
        SystemController,
        AuthController,
        MeController,
        ProfileController,
        OAuthController,
        IdentityController,
        ListingController,
        ListingDetailController,
        WatchlistController,
        MediaController,
        AdminController,
        *realtime_handlers(),
        SearchController,
        SavedSearchController,
        HoldController,
        ReservationController,
        ReportController,
        NotificationController,
        TelegramController,
        PushController,
        DeadLetterController,
        WebhookController,
        *MESSAGING_CONTROLLERS,
        VerificationController,
        VerificationAdminController,
        AnalyticsController,
        ValuationController,
        ListingAnalyticsController,
        RiskAdminController,
        OfferController,
        DealController,
        DashboardController,
        PlanController,
        PaymentController,
        LedgerAdminController,
        graphql_controller(settings),
        *web_handlers(),
    ]


async def close_pool(db, timeout_s: float = 5.0) -> None:
    """Close the pool, but never hang a shutdown on a connection some task still holds."""
    pool = db.pool
    if pool is None:
        return
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        log.warning("database pool did not close in %.0fs; terminating its connections", timeout_s)
        pool.terminate()
    db.pool = None


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Litestar app; resources open in the lifespan, not at import."""
    settings = settings or get_settings()
    configure_logging()
    tracing.configure("atp-web")
    http_metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        from app.listings.stats import view_counting

        db = engine()
        await start_pool(min_size=1, max_size=settings.db_pool_max)
        redis = Redis.from_url(settings.redis_url, health_check_interval=15, socket_keepalive=True)
        app.state.redis = redis
        try:
            async with view_counting(redis):
                # What startup made lives as long as the process: out of the collector's sweeps.
                gc.freeze()
                yield
        finally:
            await redis.aclose()
            await close_pool(db)

    key = load_or_create_key(
        settings.jwt_private_key_pem, settings.data_dir, allow_generate=not settings.is_production
    )
    # Loaded now so that production without ATP_ENCRYPTION_KEYS(_FILE) refuses to start, like the JWT key.
    load_keyring(settings)
    signer = TokenSigner(
        key, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=settings.access_token_ttl_s
    )

    app = Litestar(
        route_handlers=_routers(settings),
        lifespan=[lifespan, realtime_lifespan],
        dependencies={
            "principal": Provide(provide_principal),
            "maybe_principal": Provide(provide_optional_principal),
            "redis": Provide(provide_redis, sync_to_thread=False),
            "signer": Provide(provide_signer, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        middleware=[edge_middleware(http_metrics)],
        plugins=tracing.litestar_plugins(),
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found},  # type: ignore[arg-type]
        compression_config=compression_config(),
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None,
        openapi_config=OpenAPIConfig(
            title="ATP — verified aircraft trading",
            version="0.1.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(path="/"), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                    "ApiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                }
            ),
        ),
        debug=False,
    )
    document_problem_responses(app, openapi_refinements())
    fix_options_allow_headers(app)
    app.state.settings = settings
    app.state.signer = signer
    app.state.http_metrics = http_metrics
    app.state.payments = build_provider(settings)
    return app

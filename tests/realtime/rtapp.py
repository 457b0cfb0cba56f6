"""A web process with only what realtime needs (auth dependencies + realtime), for uvicorn in tests and bench.

It wires `app.realtime` exactly as `app.main.create_app` does, without the other domains, so the
multi-process tests start fast and do not depend on unrelated routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from redis.asyncio import Redis

from app.auth.principal import provide_optional_principal, provide_principal
from app.auth.tokens import TokenSigner, load_or_create_key
from app.core.errors import EXCEPTION_HANDLERS
from app.realtime import realtime_handlers, realtime_lifespan
from app.settings import load_settings


def create_rt_app() -> Litestar:
    settings = load_settings()

    @asynccontextmanager
    async def base(app: Litestar) -> AsyncIterator[None]:
        app.state.redis = Redis.from_url(settings.redis_url)
        try:
            yield
        finally:
            await app.state.redis.aclose()

    key = load_or_create_key("", settings.data_dir, allow_generate=True)
    signer = TokenSigner(
        key, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=settings.access_token_ttl_s
    )
    app = Litestar(
        route_handlers=realtime_handlers(),
        lifespan=[base, realtime_lifespan],
        dependencies={
            "principal": Provide(provide_principal),
            "maybe_principal": Provide(provide_optional_principal),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.signer = signer
    return app

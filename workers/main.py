"""arq worker settings: jobs, cron schedule, resources, msgspec (not pickle) serialization."""

from __future__ import annotations

import os
from typing import Any

import msgspec
from arq import cron
from arq.connections import RedisSettings

from workers import maintenance, reservations, search


def _serialize(value: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict[str, Any]:
    return msgspec.msgpack.decode(data)


async def startup(ctx: dict[str, Any]) -> None:
    from app.core.db import engine

    await engine().start_connection_pool(min_size=1, max_size=int(os.environ.get("ATP_WORKER_DB_POOL", "5")))


async def shutdown(ctx: dict[str, Any]) -> None:
    from app.core.db import engine

    await engine().close_connection_pool()


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


class WorkerSettings:
    functions = [
        maintenance.prune_expired_credentials,
        reservations.expire_hold,
        reservations.expire_reservation,
        reservations.sweep_expired,
        search.index_listing_events,
        search.evaluate_saved_searches,
    ]
    cron_jobs = [
        cron(maintenance.prune_expired_credentials, minute={7, 37}, unique=True, run_at_startup=True),
        # Every 2 s: holds end within 5 s of expiresAt even when their own job was lost.
        cron(
            reservations.sweep_expired,
            second=set(range(0, 60, 2)),
            unique=True,
            run_at_startup=True,
            timeout=30,
        ),
        # Every 5 s: listing events reach the Meilisearch index and saved-search alerts.
        cron(search.index_listing_events, second=set(range(1, 60, 5)), unique=True, timeout=60),
        cron(search.evaluate_saved_searches, second=set(range(3, 60, 5)), unique=True, timeout=60),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    job_serializer = staticmethod(_serialize)
    job_deserializer = staticmethod(_deserialize)
    job_timeout = 60
    max_tries = 5
    health_check_interval = 30

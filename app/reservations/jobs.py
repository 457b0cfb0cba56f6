"""Scheduling of expiry jobs: one arq job per hold/reservation, due at its `expiresAt`.

Best effort by design: the cron sweep in the worker expires anything a lost job missed, so a Redis
hiccup here never fails the request whose transaction already committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.core import tracing
from app.reservations.service import Due

log = logging.getLogger("atp.reservations")

# Same wire format as workers.main (msgspec msgpack, never pickle).
_JOBS = {"hold": "expire_hold", "reservation": "expire_reservation"}


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


def job_id(due: Due) -> str:
    """Unique per object: arq refuses a second job with the same id, so scheduling twice is harmless."""
    return f"{_JOBS[due.kind]}:{due.id}"


async def schedule_expiries(redis: Redis, items: Iterable[Due]) -> None:
    """Enqueue each item's expiry job for its `expires_at` (logged, never raised, on failure)."""
    items = list(items)
    if not items:
        return
    queue = ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)
    for due in items:
        try:
            await queue.enqueue_job(
                _JOBS[due.kind],
                str(due.id),
                _job_id=job_id(due),
                _defer_until=due.expires_at,
                **tracing.job_headers(),
            )
        except Exception:
            log.warning("could not schedule %s; the sweep will expire it", job_id(due), exc_info=True)

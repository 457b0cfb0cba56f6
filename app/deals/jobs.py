"""Scheduling of offer expiry: one arq job per offer, due at its `expiresAt`; the sweep catches the rest."""

from __future__ import annotations

import logging

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.deals.service import Due

log = logging.getLogger("atp.deals")


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


async def schedule_expiry(redis: Redis, due: Due) -> None:
    """Enqueue the offer's expiry job (unique id per offer; logged, never raised, on failure)."""
    queue = ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        await queue.enqueue_job(
            "expire_offer", str(due.id), _job_id=f"expire_offer:{due.id}", _defer_until=due.expires_at
        )
    except Exception:
        log.warning(
            "could not schedule the expiry of offer %s; the sweep will expire it", due.id, exc_info=True
        )

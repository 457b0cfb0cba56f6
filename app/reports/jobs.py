"""Queueing report builds (after the request's transaction has committed)."""

from __future__ import annotations

import logging
import uuid

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.core import queues, tracing

log = logging.getLogger("atp.reports")

JOB_NAME = "build_report"


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


def job_id(report_id: uuid.UUID, attempt: int) -> str:
    # One job per attempt: a retry is a new job even while arq still keeps the failed one's result.
    return f"{JOB_NAME}:{report_id}:{attempt}"


async def enqueue_build(redis: Redis, report_id: uuid.UUID, attempt: int) -> None:
    """Queue the build on the slow queue (best effort: the main worker's sweep re-queues a report whose
    job was lost)."""
    queue = ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        await queue.enqueue_job(
            JOB_NAME,
            str(report_id),
            _job_id=job_id(report_id, attempt),
            _queue_name=queues.SLOW,
            **tracing.job_headers(),
        )
    except Exception:
        log.warning("could not queue report %s; the sweep will", report_id, exc_info=True)

"""Enqueueing check jobs: one arq job per (case, check), with an id arq deduplicates.

The id is `verify:<case>:<check>:<round>:<generation>`: a resubmitted case gets a new round; the sweep
bumps the generation only when the previous job is gone (lost, failed, or finished without completing
the check), so a live job is never doubled. Enqueueing happens after the commit and is best effort:
the sweep covers a lost enqueue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.core import tracing

log = logging.getLogger("atp.verification")

JOB_FUNCTIONS = {
    "documents": "verify_documents",
    "registry": "verify_registry",
    "sanctions": "verify_sanctions",
    "bank": "verify_bank",
}


class CheckJob(msgspec.Struct, frozen=True):
    case_id: uuid.UUID
    check: str
    round: int
    generation: int = 0

    @property
    def job_id(self) -> str:
        return f"verify:{self.case_id}:{self.check}:{self.round}:{self.generation}"


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


def queue(redis: Redis) -> ArqRedis:
    """An arq client on `redis`'s connection pool, speaking the workers' msgspec wire format."""
    if isinstance(redis, ArqRedis):
        return redis
    return ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)


async def enqueue_checks(redis: Redis, jobs: Iterable[CheckJob]) -> int:
    """Enqueue each job (logged, never raised, on failure); returns how many were accepted."""
    arq = queue(redis)
    accepted = 0
    for job in jobs:
        try:
            if await arq.enqueue_job(
                JOB_FUNCTIONS[job.check],
                str(job.case_id),
                job.round,
                _job_id=job.job_id,
                **tracing.job_headers(),
            ):
                accepted += 1
        except Exception:
            log.warning("could not enqueue %s; the sweep will", job.job_id, exc_info=True)
    return accepted

"""The resilient worker's job lease and result serializer, against the session's real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import msgspec
from arq import func
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job, SerializationError
from arq.worker import JobExecutionFailed

from workers.main import _deserialize, _serialize
from workers.runner import ResilientWorker


async def slow(ctx) -> None:
    await ctx["redis"].incr(ctx["counter"])
    await asyncio.sleep(1.5)


async def failing(ctx) -> None:
    raise JobExecutionFailed("the receiver said no")


def worker(queue: str, counter: str, **kwargs) -> ResilientWorker:
    return ResilientWorker(
        functions=[func(slow, name="slow", timeout=10), func(failing, name="failing", max_tries=1)],
        redis_settings=RedisSettings.from_dsn(os.environ["REDIS_URL"]),
        queue_name=queue,
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
        ctx={"counter": counter},
        **kwargs,
    )


async def test_a_running_job_keeps_its_claim_beyond_one_lease():
    """The lease (0.6 s) is shorter than the job (1.5 s): renewals keep a second worker off it."""
    queue, counter = f"q-{uuid.uuid4().hex}", f"c-{uuid.uuid4().hex}"
    pool = await create_pool(
        RedisSettings.from_dsn(os.environ["REDIS_URL"]),
        default_queue_name=queue,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
    )
    workers = [worker(queue, counter, lease_s=0.6) for _ in range(2)]
    tasks = [asyncio.create_task(w.async_run()) for w in workers]
    try:
        await pool.enqueue_job("slow", _job_id=f"slow-{queue}")
        await asyncio.sleep(2.5)
        assert int(await pool.get(counter) or 0) == 1
        assert sum(w.jobs_complete for w in workers) == 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in workers:
            await w.close()
        await pool.aclose()


async def test_a_failed_jobs_exception_is_stored_and_read_back():
    """arq stores the exception of a failed job as its result; msgpack has no such type (this used to
    log `error serializing result` and drop the outcome)."""
    queue, counter = f"q-{uuid.uuid4().hex}", f"c-{uuid.uuid4().hex}"
    pool = await create_pool(
        RedisSettings.from_dsn(os.environ["REDIS_URL"]),
        default_queue_name=queue,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
    )
    w = worker(queue, counter, burst=True)
    try:
        job = await pool.enqueue_job("failing")
        assert isinstance(job, Job)
        await w.async_run()
        info = await job.result_info()
        assert info is not None and info.success is False
        assert info.result == "JobExecutionFailed: the receiver said no"
        try:
            await job.result(timeout=1)
        except SerializationError as exc:
            assert "the receiver said no" in str(exc)
        else:
            raise AssertionError("a failed job's result must raise")
    finally:
        await w.close()
        await pool.aclose()


def test_serializer_round_trips_plain_values_and_keeps_unknown_ones_as_text():
    value = {
        "t": 1,
        "f": "deliver_webhooks",
        "a": ["x"],
        "k": {},
        "r": ValueError("boom"),
        "when": uuid.UUID(int=1),
    }
    decoded = _deserialize(_serialize(value))
    assert decoded["r"] == "ValueError: boom"
    assert decoded["when"] == str(uuid.UUID(int=1))  # msgspec encodes UUIDs natively as strings
    assert msgspec.msgpack.decode(_serialize({"a": [1, 2]})) == {"a": [1, 2]}

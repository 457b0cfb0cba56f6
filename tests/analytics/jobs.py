"""The analytics consumer as production runs it: the `consume_market_events` job in a real arq worker."""

from __future__ import annotations

import uuid


async def consume_in_worker() -> None:
    """Run the production consumer job in a burst-mode arq worker on a private queue until it is drained."""
    from arq import create_pool
    from arq.worker import Worker, func

    from tests.processes import clear_abandoned_jobs
    from workers import analytics
    from workers.main import _deserialize, _serialize, redis_settings

    settings = redis_settings()
    clear_abandoned_jobs(f"redis://{settings.host}:{settings.port}/{settings.database}")
    queue = f"atp-test-analytics-{uuid.uuid4().hex[:8]}"
    pool = await create_pool(settings, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        for _ in range(20):  # other tests' events may be queued ahead of ours; each run reads 8 x 500
            job = await pool.enqueue_job("consume_market_events", _queue_name=queue)
            worker = Worker(
                functions=[func(analytics.consume_market_events, name="consume_market_events")],
                redis_settings=settings,
                queue_name=queue,
                burst=True,
                poll_delay=0.05,
                handle_signals=False,
                job_serializer=_serialize,
                job_deserializer=_deserialize,
            )
            try:
                await worker.main()
            finally:
                await worker.close()
            totals = await job.result(timeout=30)
            if totals["events"] == 0:
                return
    finally:
        await pool.aclose()

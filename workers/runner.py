"""An arq worker that outlives Redis and PostgreSQL outages and gives a killed worker's jobs back fast.

Stock arq exits on the first `ConnectionError` of its poll loop, and after a `kill -9` a job stays
claimed ("in progress") for the largest `job_timeout` of any function + 10 s, so work with a fixed job
id (one endpoint's webhooks, one verification check) stalls for minutes. Here:

- the poll loop catches a dependency outage, waits with backoff and goes on; the Redis client
  reconnects on its next command, so no job is lost and the process never exits;
- the in-progress key is a short *lease* (`ATP_JOB_LEASE_S`, 15 s) that a running job's worker renews
  every third of it: a live job keeps its claim for as long as it runs, a dead worker's claim lapses
  within one lease and the next poll takes the job again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import redis.exceptions
from arq.constants import in_progress_key_prefix
from arq.worker import Worker, get_kwargs

log = logging.getLogger("atp.worker")

# A WatchError reaches the poll loop only when the connection drops under a WATCH (redis-py wraps the
# ConnectionError): arq handles the ordinary "key changed" case inside `start_jobs` itself.
OUTAGES = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.WatchError,
    OSError,
)
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 5.0


class ResilientWorker(Worker):
    def __init__(self, *args: Any, lease_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease_s = lease_s or float(os.environ.get("ATP_JOB_LEASE_S", "15"))
        # arq claims a job for `in_progress_timeout_s`; renewals below keep a running job's claim alive.
        self.in_progress_timeout_s = self.lease_s
        self._renewed_at = 0.0
        self._backoff = BACKOFF_MIN_S
        self._outage_since: float | None = None

    async def main(self) -> None:
        """arq's main loop, restarted with backoff when Redis or PostgreSQL is away at start."""
        while True:
            try:
                await super().main()
                return
            except OUTAGES as exc:
                await self._wait_out(exc)

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            await self._renew_leases()
        except OUTAGES as exc:
            await self._wait_out(exc)
            return
        if self._outage_since is not None:
            log.warning(
                "worker: dependencies answer again after %.1f s", time.monotonic() - self._outage_since
            )
            self._outage_since, self._backoff = None, BACKOFF_MIN_S

    async def _renew_leases(self) -> None:
        now = time.monotonic()
        if now - self._renewed_at < self.lease_s / 3:
            return
        self._renewed_at = now
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running:
            return
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                pipe.pexpire(in_progress_key_prefix + job_id, int(self.lease_s * 1000))
            await pipe.execute()

    async def _wait_out(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("worker: %s: %s; retrying with backoff", type(exc).__name__, str(exc)[:200])
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)

    async def close(self) -> None:
        try:
            await super().close()
        except OUTAGES as exc:
            # Redis is away at shutdown: the health key expires by itself; still release our resources.
            log.warning("worker: closing while Redis is unavailable (%s)", type(exc).__name__)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)


def create_worker(settings_cls: type, **kwargs: Any) -> ResilientWorker:
    return ResilientWorker(**{**get_kwargs(settings_cls), **kwargs})

"""A worker killed with SIGKILL in the middle of a webhook delivery: the next worker sends it again
within the job timeout + 10 s (RELIABILITY.md), not after arq's largest timeout (it was 610 s)."""

from __future__ import annotations

import asyncio
import time

import httpx
from aiohttp import web

from tests.chaos.conftest import listing_with_webhook
from tests.webhooks.harness import Receiver

DELIVER_JOB_TIMEOUT_S = 30  # workers/main.py: func(webhooks.deliver_webhooks, timeout=30)


class StallingReceiver(Receiver):
    """Holds the first request open (the worker is killed meanwhile), answers 200 to the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.first_arrived = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        if not self.first_arrived.is_set():
            self.first_arrived.set()
            await request.read()
            self.requests.append({"at": time.monotonic(), "headers": dict(request.headers), "stalled": True})
            await asyncio.sleep(30)
        return await super()._handle(request)


async def test_delivery_in_flight_when_the_worker_dies_is_sent_again(stack, seller):
    receiver = await StallingReceiver().start()
    try:
        listing_id = await listing_with_webhook(stack, seller, receiver.url)
        async with httpx.AsyncClient(base_url=stack.urls[0], timeout=10) as client:
            changed = await client.patch(
                f"/api/listings/{listing_id}", json={"price": "5100000.00"}, headers=seller["headers"]
            )
            assert changed.status_code == 200, changed.text

        await asyncio.wait_for(receiver.first_arrived.wait(), 20)
        assert stack.worker is not None
        stack.worker.kill()  # SIGKILL while the POST is in flight: no cleanup, its claims stay behind
        killed_at = time.monotonic()
        stack.restart_worker()

        requests = await receiver.wait_for(
            lambda rs: any(not r.get("stalled") for r in rs), within=DELIVER_JOB_TIMEOUT_S + 10
        )
        took = time.monotonic() - killed_at
        first, again = requests[0], next(r for r in requests if not r.get("stalled"))
        assert again["headers"]["webhook-id"] == first["headers"]["webhook-id"]
        assert took < DELIVER_JOB_TIMEOUT_S + 10
        print(f"delivery resent {took:.1f} s after the worker was killed")
    finally:
        await receiver.stop()

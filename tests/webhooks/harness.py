"""Real servers on 127.0.0.1 for outbound tests (webhook receiver, fake Bot API) and an in-process arq
worker running the notification and webhook jobs with test settings. No app imports at module level."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web


class Receiver:
    """An HTTP server that records every request and answers with `respond(n)` for the n-th request."""

    def __init__(self, respond: Callable[[int], int | tuple[int, dict]] | None = None) -> None:
        self.respond = respond or (lambda n: 200)
        self.requests: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        answer = self.respond(len(self.requests))
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        async with self.arrived:
            self.requests.append(
                {"at": time.monotonic(), "path": request.path, "headers": dict(request.headers), "body": body}
            )
            self.arrived.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "nope", headers=headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, predicate: Callable[[list[dict]], bool], within: float = 20.0) -> list[dict]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: predicate(self.requests)), within)
        return self.requests


async def eventually(check: Callable[[], Any], within: float = 20.0, interval: float = 0.05) -> Any:
    """Poll an async `check` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def disable_existing_endpoints() -> None:
    """Endpoints other suites registered (the fuzzer may register any public URL) stop receiving, so a
    test's worker never calls out of 127.0.0.1."""
    from app.core import db

    await db.fetch("UPDATE webhook_endpoints SET enabled = false WHERE enabled")


@contextlib.asynccontextmanager
async def running_worker(settings, **ctx: Any):
    """The notification and webhook jobs (pumps every second) in an arq worker on a private queue."""
    from arq import cron
    from arq.worker import Worker, func

    from workers import notifications, webhooks
    from workers.main import _deserialize, _serialize, redis_settings

    context: dict[str, Any] = {"settings": settings, **ctx}
    await webhooks.startup(context)
    await notifications.startup(context)
    worker = Worker(
        functions=[
            webhooks.pump_webhooks,
            func(webhooks.deliver_webhooks, keep_result=0),
            notifications.pump_notifications,
            func(notifications.send_notification, keep_result=0),
        ],
        cron_jobs=[
            cron(webhooks.pump_webhooks, second=set(range(60)), unique=True, timeout=30),
            cron(notifications.pump_notifications, second=set(range(60)), unique=True, timeout=30),
        ],
        redis_settings=redis_settings(),
        queue_name=f"atp-test-notify-{uuid.uuid4().hex[:8]}",
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
        ctx=context,
        max_jobs=20,
    )
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        # Let jobs in flight finish (or fail) before closing, so none is cancelled under close().
        if worker.tasks:
            await asyncio.wait(list(worker.tasks.values()), timeout=10)
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        await webhooks.close(context)

"""Webhook jobs: turn outbox events into deliveries, and send each endpoint's queue in order."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from arq.connections import ArqRedis

from app.core import tracing

DELIVER_JOB = "deliver_webhooks"
CONSUME_BATCH = 500
# The cron starts a pump each second; it keeps polling for most of that second, so an event waits about
# PUMP_IDLE_S for its delivery to be queued rather than up to a whole second.
PUMP_WINDOW_S, PUMP_IDLE_S = 0.9, 0.1


async def startup(ctx: dict[str, Any]) -> None:
    """Worker resources (arq copies ctx per job, so they must exist before the first job)."""
    from app.core.outbound import Sender
    from app.settings import get_settings
    from app.webhooks.delivery import Config

    settings = ctx.get("settings") or get_settings()
    ctx.setdefault("webhook_config", Config.from_settings(settings))
    ctx.setdefault("outbound_sender", Sender())


def _config(ctx: dict[str, Any]):
    return ctx["webhook_config"]


def _sender(ctx: dict[str, Any]):
    return ctx["outbound_sender"]


async def enqueue_endpoints(redis: ArqRedis, endpoint_ids) -> None:
    # One job id per endpoint: while one is queued or running, another enqueue is a no-op (keep_result=0
    # frees the id as soon as it ends).
    for endpoint_id in endpoint_ids:
        await redis.enqueue_job(
            DELIVER_JOB,
            str(endpoint_id),
            _job_id=f"atp:webhook-endpoint:{endpoint_id}",
            **tracing.job_headers(),
        )


async def pump_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    """Started every second: for just under a second, read new outbox events into deliveries and start a
    sender for every endpoint with work (new events, retries whose time has come, replays)."""
    from app.webhooks import delivery

    config = _config(ctx)
    totals = {"events": 0, "endpoints": 0}
    deadline = time.monotonic() + PUMP_WINDOW_S
    while True:
        events, touched = await delivery.consume_events(config)
        due = set(await delivery.due_endpoints()) | touched
        await enqueue_endpoints(ctx["redis"], due)
        totals["events"] += max(events, 0)
        totals["endpoints"] += len(due)
        if events < 0 or time.monotonic() >= deadline:
            return totals  # another pump holds the consumer: let it do the polling
        if events < CONSUME_BATCH:
            await asyncio.sleep(PUMP_IDLE_S)


async def deliver_webhooks(ctx: dict[str, Any], endpoint_id: str) -> dict[str, int]:
    """Send one endpoint's due deliveries, oldest first, stopping at the first that must wait."""
    from app.webhooks import delivery
    from workers.observability import count_deliveries

    sent = await delivery.deliver_endpoint(uuid.UUID(endpoint_id), _config(ctx), _sender(ctx))
    count_deliveries(ctx, "webhook", sent)
    return sent


async def close(ctx: dict[str, Any]) -> None:
    sender = ctx.pop("outbound_sender", None)
    if sender is not None:
        await sender.aclose()


async def prune_webhook_log(ctx: dict[str, Any]) -> int:
    """Hourly: forget succeeded deliveries after 30 days and dead ones after 90."""
    from app.webhooks import delivery

    total = 0
    while (deleted := await delivery.prune_log()) > 0:
        total += deleted
    return total

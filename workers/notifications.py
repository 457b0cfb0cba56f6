"""Notification jobs: fan `notification.created` out to email, Telegram and push; retry; dead-letter."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from arq.connections import ArqRedis

from app.core import tracing

SEND_JOB = "send_notification"
CONSUME_BATCH = 500
PUMP_WINDOW_S, PUMP_IDLE_S = 0.9, 0.1  # see workers/webhooks.py


async def startup(ctx: dict[str, Any]) -> None:
    """The channel adapters and config, built once per worker (tests may provide their own)."""
    from app.core.outbound import Sender
    from app.notifications.channels import EmailChannel, PushChannel, TelegramChannel
    from app.notifications.delivery import Config
    from app.notifications.telegram_api import HttpTelegram
    from app.notifications.vapid import load_vapid
    from app.settings import get_settings

    settings = ctx.get("settings") or get_settings()
    ctx.setdefault("notify_config", Config.from_settings(settings))
    if "channels" not in ctx:
        registry: dict[str, Any] = {}
        if settings.smtp_host:
            registry["email"] = EmailChannel(settings)
        registry["telegram"] = TelegramChannel(ctx.get("telegram") or HttpTelegram.from_settings(settings))
        keys = load_vapid(settings)
        if keys is not None:
            sender = ctx.setdefault("outbound_sender", Sender())
            registry["push"] = PushChannel(keys, sender, settings.webhook_allow_hosts, settings.vapid_subject)
        ctx["channels"] = registry


def _config(ctx: dict[str, Any]):
    return ctx["notify_config"]


def _channels(ctx: dict[str, Any]) -> dict[str, Any]:
    return ctx["channels"]


async def enqueue_deliveries(redis: ArqRedis, delivery_ids) -> None:
    for delivery_id in delivery_ids:
        await redis.enqueue_job(
            SEND_JOB, str(delivery_id), _job_id=f"atp:notify:{delivery_id}", **tracing.job_headers()
        )


async def pump_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """Started every second: for just under a second, turn new notifications into deliveries (offline
    users only) and queue every due delivery."""
    from app.notifications import delivery

    config = _config(ctx)
    totals = {"events": 0, "deliveries": 0}
    deadline = time.monotonic() + PUMP_WINDOW_S
    while True:
        events, created = await delivery.consume_events(ctx["redis"], config)
        due = set(await delivery.due_deliveries()) | set(created)
        await enqueue_deliveries(ctx["redis"], due)
        totals["events"] += max(events, 0)
        totals["deliveries"] += len(due)
        if events < 0 or time.monotonic() >= deadline:
            return totals  # another pump holds the consumer: let it do the polling
        if events < CONSUME_BATCH:
            await asyncio.sleep(PUMP_IDLE_S)


async def send_notification(ctx: dict[str, Any], delivery_id: str) -> str | None:
    """Try one delivery on its channel; retried later or dead-lettered on failure."""
    from app.notifications import delivery
    from workers.observability import count_deliveries

    result = await delivery.send_delivery(uuid.UUID(delivery_id), _channels(ctx), _config(ctx))
    count_deliveries(ctx, "notification", result)
    return result


async def prune_notification_deliveries(ctx: dict[str, Any]) -> int:
    """Hourly: forget sent deliveries after 30 days and dead ones after 90."""
    from app.notifications import delivery

    total = 0
    while (deleted := await delivery.prune_deliveries()) > 0:
        total += deleted
    return total

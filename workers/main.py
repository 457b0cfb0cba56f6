"""arq worker settings: jobs, cron schedule, resources, msgspec (not pickle) serialization.

Two queues (app/core/queues.py), each served by its own processes: `WorkerSettings` (`python -m
workers`) for everything that must happen on time, `SlowWorkerSettings` (`python -m workers --queue
slow`) for report builds and model training, which run for minutes on a CPU.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import msgspec
from arq import cron, func
from arq.connections import RedisSettings

from app.core import queues
from workers import (
    analytics,
    deals,
    maintenance,
    messaging,
    notifications,
    observability,
    photos,
    reports,
    reservations,
    search,
    verification,
    webhooks,
)


def _encode_other(value: Any) -> Any:
    # arq stores a failed job's exception (JobExecutionFailed, a timeout, our own errors) as its result;
    # msgpack has no exception type, so it is kept as text. Reading it back, arq raises it as a
    # SerializationError carrying that text.
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return repr(value)


_encoder = msgspec.msgpack.Encoder(enc_hook=_encode_other)


def _serialize(value: dict[str, Any]) -> bytes:
    return _encoder.encode(value)


def _deserialize(data: bytes) -> dict[str, Any]:
    return msgspec.msgpack.decode(data)


async def startup(ctx: dict[str, Any]) -> None:
    from app.core.db import start_pool

    if ctx.get("started"):
        return  # a retry after PostgreSQL was away at start (workers/runner.py)
    # arq logs every job's start and end at INFO: with the outbox pumps running every second that is
    # four lines a second of routine. Failures (ERROR) and exhausted retries (WARNING) still show;
    # ATP_WORKER_LOG_LEVEL=INFO brings the per-job lines back.
    logging.getLogger("arq.worker").setLevel(os.environ.get("ATP_WORKER_LOG_LEVEL", "WARNING").upper())

    await start_pool(min_size=1, max_size=int(os.environ.get("ATP_WORKER_DB_POOL", "5")))
    await observability.startup(ctx)
    await webhooks.startup(ctx)
    await notifications.startup(ctx)
    ctx["started"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    from app.core.db import engine

    if not ctx.pop("started", False):
        return
    await webhooks.close(ctx)
    await observability.shutdown(ctx)
    await engine().close_connection_pool()


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


class WorkerSettings:
    functions = [
        maintenance.prune_expired_credentials,
        maintenance.prune_outbox,
        reservations.expire_hold,
        reservations.expire_reservation,
        reservations.sweep_expired,
        search.index_listing_events,
        search.evaluate_saved_searches,
        photos.process_listing_photo,
        photos.retry_stuck_photos,
        *verification.JOBS,
        webhooks.pump_webhooks,
        func(webhooks.deliver_webhooks, keep_result=0, timeout=30),
        notifications.pump_notifications,
        func(notifications.send_notification, keep_result=0, timeout=25),
        webhooks.prune_webhook_log,
        notifications.prune_notification_deliveries,
        messaging.pump_offline_messages,
        messaging.process_message_attachment,
        messaging.retry_stuck_attachments,
        # Re-queues report builds (on the slow queue) whose job was lost or whose worker died.
        reports.sweep_reports,
        analytics.consume_market_events,
        analytics.sweep_risk,
        func(deals.expire_offer, timeout=20),
        deals.sweep_offers,
        deals.lapse_subscriptions,
    ]
    cron_jobs = [
        # Every 10 s: a check whose job was lost (enqueue after commit failed, worker killed) runs again.
        cron(verification.sweep_verifications, second=set(range(4, 60, 10)), unique=True, timeout=30),
        cron(maintenance.prune_expired_credentials, minute={7, 37}, unique=True, run_at_startup=True),
        cron(maintenance.prune_outbox, minute={23}, second={15}, unique=True, timeout=600),
        # Every 2 s: holds end within 5 s of expiresAt even when their own job was lost.
        cron(
            reservations.sweep_expired,
            second=set(range(0, 60, 2)),
            unique=True,
            run_at_startup=True,
            timeout=30,
        ),
        # Every 5 s: listing events reach the Meilisearch index and saved-search alerts.
        cron(search.index_listing_events, second=set(range(1, 60, 5)), unique=True, timeout=60),
        cron(search.evaluate_saved_searches, second=set(range(3, 60, 5)), unique=True, timeout=60),
        # Every minute: photos whose rendition job was lost still get their thumbnails.
        cron(photos.retry_stuck_photos, second={45}, unique=True, timeout=300),
        # Every second: outbox events become webhook and notification deliveries; due ones are sent.
        cron(webhooks.pump_webhooks, second=set(range(60)), unique=True, timeout=30, keep_result=0),
        cron(notifications.pump_notifications, second=set(range(60)), unique=True, timeout=30, keep_result=0),
        cron(messaging.pump_offline_messages, second=set(range(60)), unique=True, timeout=30, keep_result=0),
        cron(messaging.retry_stuck_attachments, second={50}, unique=True, timeout=300),
        # Every 15 s: a report whose job was lost or whose worker died is queued again.
        cron(reports.sweep_reports, second={8, 23, 38, 53}, unique=True, timeout=30),
        cron(webhooks.prune_webhook_log, minute={17}, second={30}, unique=True, timeout=300),
        cron(notifications.prune_notification_deliveries, minute={19}, second={30}, unique=True, timeout=300),
        # Every 2 s: listing events become market facts, rollups and risk flags (within seconds).
        cron(
            analytics.consume_market_events,
            second=set(range(1, 60, 2)),
            unique=True,
            timeout=60,
            keep_result=0,
        ),
        # Hourly: stale listings and verification findings.
        cron(analytics.sweep_risk, minute={41}, second={0}, unique=True, timeout=300),
        # Every 5 s: offers expire on time even when their own job was lost.
        cron(deals.sweep_offers, second=set(range(2, 60, 5)), unique=True, run_at_startup=True, timeout=30),
        cron(deals.lapse_subscriptions, second={50}, unique=True, timeout=60),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    job_serializer = staticmethod(_serialize)
    job_deserializer = staticmethod(_deserialize)
    # Most jobs wait on I/O (HTTP, SMTP, the database): more of them in flight, picked up sooner. arq starts
    # at most max_jobs jobs per poll, so these two bound how many webhook/notification sends start a second.
    max_jobs = 40
    poll_delay = 0.2
    job_timeout = 60
    max_tries = 5
    health_check_interval = 30


class SlowWorkerSettings:
    """The slow queue: jobs that take minutes and a CPU. Few at once (each build also takes a
    semaphore, workers/reports.py); nothing here is on anyone's clock but the person waiting for it.

    The settings both classes share are spelled out in each: arq's `get_kwargs` reads a settings
    class's own `__dict__`, so a shared base class would silently drop them.
    """

    queue_name = queues.SLOW
    functions = [
        # Excel reports (issue 16): progress is a build's heartbeat; the main worker's sweep re-queues.
        func(reports.build_report, timeout=reports.BUILD_TIMEOUT_S, max_tries=3),
        reports.purge_expired_reports,
        func(analytics.train_valuation_model, timeout=600, keep_result=3600),
    ]
    cron_jobs = [
        # Hourly: files of reports whose links expired leave storage.
        cron(reports.purge_expired_reports, minute={41}, second={10}, unique=True, timeout=300),
        # Nightly: a new valuation model version.
        cron(analytics.train_valuation_model, hour={3}, minute={10}, unique=True, timeout=600),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    job_serializer = staticmethod(_serialize)
    job_deserializer = staticmethod(_deserialize)
    max_jobs = 2
    poll_delay = 0.5
    job_timeout = 600
    max_tries = 3
    health_check_interval = 30


SETTINGS = {"main": WorkerSettings, "slow": SlowWorkerSettings}

# Every job traced (continuing its enqueuer's trace) and counted by outcome: workers/observability.py.
observability.instrument(SlowWorkerSettings)
observability.instrument(WorkerSettings)

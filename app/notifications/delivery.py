"""From `notification.created` events to email, Telegram and push, per the user's preferences.

A consumer reads the outbox by position and creates one delivery per (notification, chosen channel)
for users who are offline (an online user already saw it live). Each delivery is then sent by its own
job, retried on the configured schedule, and dead-lettered after the last try (admins can replay it).
"""

from __future__ import annotations

import logging
import uuid

import msgspec
from redis.asyncio import Redis

from app.core import backoff, consumers, db
from app.core.db import UnitOfWork
from app.notifications.channels import Channel, DeliveryError, Message
from app.notifications.preferences import channels_for
from app.notifications.presence import online_users
from app.settings import Settings
from realtime import channels as rt_channels

log = logging.getLogger("atp.notifications")

CURSOR_TABLE, CURSOR = "notification_cursors", "notifications"
EVENT_TYPE = "notification.created"
# Longer than one send can take (channel timeouts ≤ 15 s, job timeout 25 s), short enough that a
# delivery whose worker was killed is sent again within half a minute.
LEASE_S = 30.0


class Config(msgspec.Struct, frozen=True, kw_only=True):
    retry_schedule: tuple[float, ...]
    public_url: str
    email_enabled: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(
            retry_schedule=settings.notify_retry_schedule,
            public_url=settings.public_url,
            email_enabled=bool(settings.smtp_host),
        )


class _Created(msgspec.Struct, rename="camel"):
    notification_id: uuid.UUID
    kind: str


async def consume_events(redis: Redis, config: Config, *, limit: int = 500) -> tuple[int, list[uuid.UUID]]:
    """Create deliveries for notifications since the last run; (events read, new delivery ids).
    Events read is -1 when another pump holds the position (it is doing this work right now)."""
    async with UnitOfWork() as uow:
        conn = uow.conn
        after = await consumers.read_position(conn, CURSOR_TABLE, CURSOR, skip_locked=True)
        if after is None:  # another pump is reading right now
            return -1, []
        rows, position = await consumers.committed_events(conn, after, limit=limit)
        if position == after:
            return 0, []
        wanted: list[tuple[uuid.UUID, _Created]] = []
        for row in rows:
            name = rt_channels.parse(row["channel"])
            if row["event_type"] != EVENT_TYPE or name is None or name.kind != rt_channels.USER:
                continue
            assert name.object_id is not None
            wanted.append((name.object_id, msgspec.json.decode(row["payload"], type=_Created)))
        created: list[uuid.UUID] = []
        if wanted:
            online = await online_users(redis, (user for user, _ in wanted))
            offline = [(user, event) for user, event in wanted if user not in online]
            created = await _create_deliveries(conn, offline, config)
        await consumers.save_position(conn, CURSOR_TABLE, CURSOR, position)
    return len(rows), created


async def _create_deliveries(
    conn, items: list[tuple[uuid.UUID, _Created]], config: Config
) -> list[uuid.UUID]:
    if not items:
        return []
    users = list({user for user, _ in items})
    chosen = await channels_for(conn, [(user, event.kind) for user, event in items])
    linked = {
        r["user_id"]
        for r in await conn.fetch("SELECT user_id FROM telegram_links WHERE user_id = ANY($1::uuid[])", users)
    }
    subscribed = {
        r["user_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT user_id FROM push_subscriptions WHERE user_id = ANY($1::uuid[])", users
        )
    }
    available = {
        "email": lambda user: config.email_enabled,
        "telegram": lambda user: user in linked,
        "push": lambda user: user in subscribed,
    }
    notification_ids: list[uuid.UUID] = []
    user_ids: list[uuid.UUID] = []
    names: list[str] = []
    for user, event in items:
        for channel in chosen[(user, event.kind)]:
            if available[channel](user):
                notification_ids.append(event.notification_id)
                user_ids.append(user)
                names.append(channel)
    if not names:
        return []
    # A notification deleted since (its user deleted) has nothing to deliver: join drops it.
    rows = await conn.fetch(
        """INSERT INTO notification_deliveries (notification_id, user_id, channel)
           SELECT q.notification_id, q.user_id, q.channel
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS q (notification_id, user_id, channel)
           JOIN notifications n ON n.id = q.notification_id
           ON CONFLICT (notification_id, channel) DO NOTHING RETURNING id""",
        notification_ids,
        user_ids,
        names,
    )
    return [r["id"] for r in rows]


async def due_deliveries(limit: int = 1000) -> list[uuid.UUID]:
    rows = await db.fetch(
        """SELECT id FROM notification_deliveries
           WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
           ORDER BY next_attempt_at LIMIT $1""",
        limit,
    )
    return [r["id"] for r in rows]


async def send_delivery(delivery_id: uuid.UUID, registry: dict[str, Channel], config: Config) -> str | None:
    """Try one due delivery once; its new status, or None when it was not due or someone else has it."""
    row = await db.fetchrow(
        """UPDATE notification_deliveries SET lease_until = now() + make_interval(secs => $2)
           WHERE id = $1 AND status = 'pending' AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now())
           RETURNING id, notification_id, user_id, channel, attempt, step""",
        delivery_id,
        LEASE_S,
    )
    if row is None:
        return None
    note = await db.fetchrow(
        "SELECT id, kind, title, body, link FROM notifications WHERE id = $1", row["notification_id"]
    )
    error: DeliveryError | None = None
    channel = registry.get(row["channel"])
    if note is None:
        error = DeliveryError("the notification no longer exists", retryable=False)
    elif channel is None:
        error = DeliveryError(f"the {row['channel']} channel is not configured", retryable=False)
    else:
        link = note["link"]
        if link and link.startswith("/"):
            link = config.public_url + link
        message = Message(
            notification_id=note["id"], kind=note["kind"], title=note["title"], body=note["body"], link=link
        )
        try:
            await channel.send(row["user_id"], message)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an adapter bug must not strand the delivery: log it, retry it
            log.exception("notifications: %s channel failed", row["channel"])
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
    return await _record(row, error, config)


async def _record(row, error: DeliveryError | None, config: Config) -> str:
    number = row["attempt"] + 1
    if error is None:
        await db.fetch(
            """UPDATE notification_deliveries SET status = 'sent', attempt = $2, last_error = NULL, sent_at = now(),
                      lease_until = NULL, updated_at = now() WHERE id = $1""",
            row["id"],
            number,
        )
        return "sent"
    delay = (
        backoff.next_delay(config.retry_schedule, row["step"], error.retry_after) if error.retryable else None
    )
    if delay is None:
        await db.fetch(
            """UPDATE notification_deliveries SET status = 'dead', attempt = $2, last_error = $3, dead_at = now(),
                      lease_until = NULL, updated_at = now() WHERE id = $1""",
            row["id"],
            number,
            str(error)[:500],
        )
        log.warning("notifications: delivery %s dead after %d tries: %s", row["id"], number, error)
        return "dead"
    await db.fetch(
        """UPDATE notification_deliveries SET attempt = $2, last_error = $3, step = step + 1,
                  next_attempt_at = now() + make_interval(secs => $4), lease_until = NULL, updated_at = now()
           WHERE id = $1""",
        row["id"],
        number,
        str(error)[:500],
        delay,
    )
    return "pending"


async def prune_deliveries(*, keep_days: int = 30, keep_dead_days: int = 90, batch: int = 5000) -> int:
    """Delete finished deliveries older than the retention; pending ones stay."""
    rows = await db.fetch(
        """DELETE FROM notification_deliveries WHERE id IN (
             SELECT id FROM notification_deliveries
             WHERE (status = 'sent' AND sent_at < now() - make_interval(days => $1))
                OR (status = 'dead' AND dead_at < now() - make_interval(days => $2))
             LIMIT $3) RETURNING id""",
        keep_days,
        keep_dead_days,
        batch,
    )
    return len(rows)

"""Offline delivery: a participant with no open socket hears about new messages through a notification
(in-app always; email, Telegram, web push per their preferences, by app/notifications) — at most one per
thread per 10 minutes, with the sender, the listing and the message's first line.

A consumer of the outbox (`message.created` on `thread:<id>`), run by the worker every second. The
10-minute window is a row per (thread, user) claimed with one upsert, in the transaction that creates the
notification and saves the consumer's position: a re-run after a crash neither skips nor repeats it.
"""

from __future__ import annotations

import uuid

import msgspec
from redis.asyncio import Redis

from app.accounts.profiles import display_name
from app.core import consumers
from app.core.db import UnitOfWork
from app.notifications.presence import online_users
from app.notifications.service import notify
from realtime import channels

CURSOR_TABLE, CURSOR = "messaging_cursors", "offline"
EVENT_TYPE = "message.created"
KIND = "message.created"
WINDOW_S = 600
FIRST_LINE_MAX = 200


class _Created(msgspec.Struct, rename="camel"):
    message_id: uuid.UUID
    thread_id: uuid.UUID
    sender_id: uuid.UUID
    body: str


def first_line(body: str) -> str:
    line = next((part.strip() for part in body.splitlines() if part.strip()), "")
    return line if len(line) <= FIRST_LINE_MAX else line[: FIRST_LINE_MAX - 1] + "…"


async def consume_events(redis: Redis, *, limit: int = 500) -> int:
    """Notify offline participants of messages since the last run; events read (-1: another pump runs)."""
    async with UnitOfWork() as uow:
        conn = uow.conn
        after = await consumers.read_position(conn, CURSOR_TABLE, CURSOR, skip_locked=True)
        if after is None:
            return -1
        rows, position = await consumers.committed_events(conn, after, limit=limit)
        if position == after:
            return 0
        created = []
        for row in rows:
            name = channels.parse(row["channel"])
            if row["event_type"] == EVENT_TYPE and name is not None and name.kind == channels.THREAD:
                created.append(msgspec.json.decode(row["payload"], type=_Created))
        if created:
            await _notify_offline(uow, redis, created)
        await consumers.save_position(conn, CURSOR_TABLE, CURSOR, position)
    return len(rows)


async def _notify_offline(uow: UnitOfWork, redis: Redis, created: list[_Created]) -> None:
    conn = uow.conn
    thread_ids = list({m.thread_id for m in created})
    members = await conn.fetch(
        "SELECT thread_id, user_id FROM thread_participants WHERE thread_id = ANY($1::uuid[])", thread_ids
    )
    by_thread: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in members:
        by_thread.setdefault(row["thread_id"], []).append(row["user_id"])
    wanted = [(m, user) for m in created for user in by_thread.get(m.thread_id, []) if user != m.sender_id]
    if not wanted:
        return
    online = await online_users(redis, {user for _, user in wanted})
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for message, user in wanted:
        key = (message.thread_id, user)
        if user in online or key in seen:
            continue
        seen.add(key)
        claimed = await conn.fetchval(
            """INSERT INTO thread_offline_notices AS n (thread_id, user_id, notified_at) VALUES ($1, $2, now())
               ON CONFLICT (thread_id, user_id) DO UPDATE SET notified_at = now()
               WHERE n.notified_at < now() - make_interval(secs => $3)
               RETURNING 1""",
            message.thread_id,
            user,
            WINDOW_S,
        )
        if claimed:
            await _notify(uow, user, message)


async def _notify(uow: UnitOfWork, user: uuid.UUID, message: _Created) -> None:
    about = await uow.conn.fetchrow(
        """SELECT u.first_name, u.last_name, u.company_name, l.id AS listing_id, l.manufacturer, l.model
           FROM message_threads t JOIN listings l ON l.id = t.listing_id, users u
           WHERE t.id = $1 AND u.id = $2""",
        message.thread_id,
        message.sender_id,
    )
    if about is None:
        return
    listing = f"{about['manufacturer']} {about['model']}".strip()
    await notify(
        uow,
        user,
        KIND,
        f"{display_name(about)} wrote about {listing}",
        first_line(message.body),
        f"/messages/{message.thread_id}",
        {
            "threadId": str(message.thread_id),
            "messageId": str(message.message_id),
            "senderId": str(message.sender_id),
            "listingId": str(about["listing_id"]),
        },
    )

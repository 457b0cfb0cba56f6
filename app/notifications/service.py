"""The notification centre: the one way to create a notification, and what a user reads back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor
from app.events import NotificationCreated
from app.notifications.schemas import NotificationRead
from realtime import channels

_COLUMNS = "id, kind, title, body, link, data, created_at, read_at"


async def notify(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    data: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Store a notification for `user_id` and emit `notification.created` on their channel, both in
    the caller's transaction; email/Telegram/push follow from the event, per the user's preferences."""
    notification_id = uuid.uuid4()
    await uow.conn.execute(
        """INSERT INTO notifications (id, user_id, kind, title, body, link, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        notification_id,
        user_id,
        kind,
        title[:200],
        body,
        link,
        msgspec.json.encode(data or {}).decode(),
    )
    uow.emit(
        NotificationCreated(
            notification_id=notification_id, kind=kind, title=title[:200], body=body, link=link
        ),
        [channels.user(user_id)],
    )
    return notification_id


def _read(row) -> NotificationRead:
    data = row["data"]
    return NotificationRead(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        link=row["link"],
        data=msgspec.json.decode(data) if isinstance(data, str | bytes) else (data or {}),
        created_at=row["created_at"],
        read_at=row["read_at"],
    )


async def list_notifications(
    principal: Principal, *, unread: bool | None, limit: int, cursor: str | None
) -> Page[NotificationRead]:
    """The caller's notifications, newest first; `unread=True` only those not read yet."""
    after = decode_cursor(cursor, 2)
    args: list[Any] = [principal.user_id, limit + 1]
    where = "user_id = $1"
    if unread is True:
        where += " AND read_at IS NULL"
    elif unread is False:
        where += " AND read_at IS NOT NULL"
    if after is not None:
        try:
            created_at, last_id = datetime.fromisoformat(after[0]), uuid.UUID(after[1])
        except (TypeError, ValueError):
            raise ValidationFailed(
                "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
            ) from None
        args += [created_at, last_id]
        where += " AND (created_at, id) < ($3, $4)"
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM notifications WHERE {where} ORDER BY created_at DESC, id DESC LIMIT $2",
        *args,
    )
    items = [_read(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])])
    return Page(items=items, next_cursor=next_cursor)


async def unread_count(principal: Principal) -> int:
    row = await db.fetchrow(
        "SELECT count(*) AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL", principal.user_id
    )
    return row["n"] if row else 0


async def mark_read(principal: Principal, notification_id: uuid.UUID) -> NotificationRead:
    """Mark one of the caller's notifications read (idempotent: the first read time is kept)."""
    row = await db.fetchrow(
        f"""UPDATE notifications SET read_at = coalesce(read_at, now())
            WHERE id = $1 AND user_id = $2 RETURNING {_COLUMNS}""",
        notification_id,
        principal.user_id,
    )
    if row is None:
        raise NotFound("notification not found")
    return _read(row)


async def mark_all_read(principal: Principal) -> int:
    rows = await db.fetch(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL RETURNING id",
        principal.user_id,
    )
    return len(rows)

"""The notification centre: the one way to create a notification, and what a user reads back."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import NotFound
from app.core.pagination import Page, keyset_page
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
    filters = ["user_id = $1"]
    if unread is True:
        filters.append("read_at IS NULL")
    elif unread is False:
        filters.append("read_at IS NOT NULL")
    return await keyset_page(
        "notifications",
        columns=_COLUMNS,
        filters=filters,
        args=[principal.user_id],
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=_read,
    )


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

"""Reads: the caller's inbox, one thread, a thread's messages, the unread badge, the moderation queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.auth.principal import Principal
from app.core import audit, db
from app.core.db import UnitOfWork
from app.core.errors import Forbidden, NotFound
from app.core.pagination import Page, keyset_page
from app.messaging import policy
from app.messaging.reads import MESSAGE_COLUMNS, UNREAD_SQL, messages_read, participants_of, threads_read
from app.messaging.schemas import MessageRead, ReportDecision, ReportQueueItem, ThreadRead, UnreadRead

CONTEXT_MESSAGES = 5  # messages before the reported one shown to the moderator


async def list_threads(
    principal: Principal, *, listing_id: uuid.UUID | None, unread: bool | None, limit: int, cursor: str | None
) -> Page[ThreadRead]:
    """The caller's threads, latest activity first."""
    inbox = f"""(SELECT t.id, t.listing_id, t.created_at, t.updated_at, {UNREAD_SQL} AS unread
                 FROM thread_participants p JOIN message_threads t ON t.id = p.thread_id
                 WHERE p.user_id = $1) AS inbox"""
    filters, args = [], [principal.user_id]
    if listing_id is not None:
        args.append(listing_id)
        filters.append(f"listing_id = ${len(args)}")
    if unread is True:
        filters.append("unread > 0")
    elif unread is False:
        filters.append("unread = 0")
    page = await keyset_page(
        inbox, filters=filters, args=args, key="updated_at", limit=limit, cursor=cursor, read=lambda r: r
    )
    pool = db.engine().pool
    assert pool is not None
    async with pool.acquire() as conn:
        items = await threads_read(conn, page.items)
    return Page(items=items, next_cursor=page.next_cursor)


async def get_thread(principal: Principal, thread_id: uuid.UUID) -> ThreadRead:
    async with UnitOfWork() as uow:
        await policy.require_reader(uow.conn, principal, thread_id)
        row = await uow.conn.fetchrow(
            f"""SELECT t.id, t.listing_id, t.created_at, t.updated_at, coalesce({UNREAD_SQL}, 0) AS unread
                FROM message_threads t LEFT JOIN thread_participants p ON p.thread_id = t.id AND p.user_id = $2
                WHERE t.id = $1""",
            thread_id,
            principal.user_id,
        )
        return (await threads_read(uow.conn, [row]))[0]


async def list_messages(
    principal: Principal, thread_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[MessageRead]:
    """A thread's messages, newest first."""
    async with UnitOfWork() as uow:
        await policy.require_reader(uow.conn, principal, thread_id)
    page = await keyset_page(
        "messages",
        columns=MESSAGE_COLUMNS,
        filters=["thread_id = $1"],
        args=[thread_id],
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=lambda r: r,
    )
    pool = db.engine().pool
    assert pool is not None
    async with pool.acquire() as conn:
        items = await messages_read(conn, page.items)
    return Page(items=items, next_cursor=page.next_cursor)


async def unread_total(principal: Principal) -> UnreadRead:
    """The header badge, counted from the read markers (exact under concurrent sends)."""
    row = await db.fetchrow(
        f"""SELECT coalesce(sum(n), 0)::bigint AS total, count(*) FILTER (WHERE n > 0) AS threads
            FROM (SELECT {UNREAD_SQL} AS n FROM thread_participants p JOIN message_threads t ON t.id = p.thread_id
                  WHERE p.user_id = $1) counts""",
        principal.user_id,
    )
    return UnreadRead(unread_count=row["total"], threads=row["threads"])


# --- moderation ---------------------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only administrators may moderate messages")


async def report_queue(
    principal: Principal, *, status: str, limit: int, cursor: str | None
) -> Page[ReportQueueItem]:
    """Reported messages with their context, newest report first."""
    _require_admin(principal)
    page = await keyset_page(
        "message_reports",
        filters=["status = $1"],
        args=[status],
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=lambda r: r,
    )
    pool = db.engine().pool
    assert pool is not None
    items = []
    async with pool.acquire() as conn:
        for report in page.items:
            items.append(await _queue_item(conn, report))
    return Page(items=items, next_cursor=page.next_cursor)


async def _queue_item(conn, report) -> ReportQueueItem:
    message = await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1", report["message_id"]
    )
    thread = await conn.fetchrow(
        "SELECT id, listing_id FROM message_threads WHERE id = $1", message["thread_id"]
    )
    before = await conn.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND position < $2
            ORDER BY position DESC LIMIT $3""",
        thread["id"],
        message["position"],
        CONTEXT_MESSAGES,
    )
    shown = await messages_read(conn, [message, *reversed(before)])
    participants = await participants_of(conn, [thread["id"]])
    return ReportQueueItem(
        id=report["id"],
        status=report["status"],
        reason=report["reason"],
        reporter_id=report["reporter_id"],
        created_at=report["created_at"],
        message=shown[0],
        thread_id=thread["id"],
        listing_id=thread["listing_id"],
        participants=participants.get(thread["id"], []),
        context=shown[1:],
        resolved_by=report["resolved_by"],
        resolved_at=report["resolved_at"],
    )


async def resolve_report(principal: Principal, report_id: uuid.UUID, data: ReportDecision) -> ReportQueueItem:
    """An admin closes a report (audited)."""
    _require_admin(principal)
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            """UPDATE message_reports SET status = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1
               RETURNING *""",
            report_id,
            data.status,
            principal.user_id,
            datetime.now(UTC),
        )
        if row is None:
            raise NotFound("report not found")
        await audit.record(
            uow.conn,
            actor_id=principal.user_id,
            action=f"message_report.{data.status}",
            subject_type="message_report",
            subject_id=report_id,
            data={"messageId": str(row["message_id"])},
        )
        return await _queue_item(uow.conn, row)

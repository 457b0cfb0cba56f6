"""Threads and messages: open a thread, send (idempotent per clientId), mark read, block, report.

Each call is one UnitOfWork: check access (policy.py), write, `uow.emit(...)`; the outbox carries
`thread.created`, `message.created` and `message.read` to `thread:<id>` and the participants' `user:<id>`.
Unread counts are never stored: they are counted from the read markers, so concurrent sends cannot skew them.
"""

from __future__ import annotations

import uuid

import asyncpg

from app.auth.principal import Principal
from app.core.db import UnitOfWork
from app.core.errors import NotFound, ValidationFailed
from app.events import MessageCreated, MessageMarkedRead, ThreadCreated
from app.messaging import policy
from app.messaging.reads import MESSAGE_COLUMNS, UNREAD_SQL, attachments_of, message_read, threads_read
from app.messaging.schemas import (
    MessageCreate,
    MessageRead,
    ReportCreate,
    ReportRead,
    ThreadCreate,
    ThreadRead,
)
from realtime import channels


class OwnListing(ValidationFailed):
    code, title = "own_listing", "You cannot open a thread about your own listing"


class BadAttachments(ValidationFailed):
    code, title = "invalid_attachments", "Attachments must be your own uploads to this thread, used once"


async def open_thread(principal: Principal, data: ThreadCreate) -> tuple[ThreadRead, bool]:
    """The caller's thread about a listing, created on first contact with its first message; (thread, created).

    The same buyer and listing again finds the existing thread and adds the message to it.
    """
    async with UnitOfWork() as uow:
        conn = uow.conn
        listing = await conn.fetchrow(
            """SELECT l.id, l.seller, l.status, u.user_type FROM listings l JOIN users u ON u.id = l.seller
               WHERE l.id = $1""",
            data.listing_id,
        )
        if listing is None or listing["status"] in policy.HIDDEN_LISTING_STATUSES:
            raise NotFound("listing not found")
        if listing["seller"] == principal.user_id:
            raise OwnListing("this is your own listing")
        await policy.ensure_not_blocked(conn, principal.user_id, [listing["seller"]])
        thread = await conn.fetchrow(
            """INSERT INTO message_threads (listing_id, buyer_id) VALUES ($1, $2)
               ON CONFLICT (listing_id, buyer_id) DO NOTHING RETURNING id""",
            data.listing_id,
            principal.user_id,
        )
        created = thread is not None
        if created:
            thread_id = thread["id"]
            # A listing published by a broker is represented: its owner takes part as the broker.
            owner_role = "broker" if listing["user_type"] == "broker" else "seller"
            members = [(principal.user_id, "buyer"), (listing["seller"], owner_role)]
            await conn.executemany(
                "INSERT INTO thread_participants (thread_id, user_id, role) VALUES ($1, $2, $3)",
                [(thread_id, user_id, role) for user_id, role in members],
            )
            uow.emit(
                ThreadCreated(
                    thread_id=thread_id,
                    listing_id=data.listing_id,
                    buyer_id=principal.user_id,
                    participants=[{"userId": str(u), "role": r} for u, r in members],
                ),
                [channels.user(u) for u, _ in members],
            )
        else:
            thread_id = await conn.fetchval(
                "SELECT id FROM message_threads WHERE listing_id = $1 AND buyer_id = $2",
                data.listing_id,
                principal.user_id,
            )
        await _send(uow, principal, thread_id, MessageCreate(body=data.body, client_id=data.client_id))
        return await _thread(conn, principal.user_id, thread_id), created


async def send_message(principal: Principal, thread_id: uuid.UUID, data: MessageCreate) -> MessageRead:
    """A participant writes; a repeated `clientId` from the same sender answers the first message."""
    async with UnitOfWork() as uow:
        return await _send(uow, principal, thread_id, data)


async def _send(
    uow: UnitOfWork, principal: Principal, thread_id: uuid.UUID, data: MessageCreate
) -> MessageRead:
    conn = uow.conn
    # Membership, blocks and an earlier message with this clientId in one round trip.
    sender = await policy.check_sender(conn, principal, thread_id, data.client_id)
    if sender.duplicate:
        first = await _by_client_id(conn, principal.user_id, data.client_id or "")
        assert first is not None
        return first
    if sender.blocked:
        raise policy.Blocked("a participant of this conversation has blocked you")
    member_ids, listing_id = sender.members, sender.listing_id
    # Every send of a thread passes through its row: the thread's activity time and the message order
    # agree, and concurrent duplicates of one clientId queue here behind the first.
    row = await conn.fetchrow(
        f"""WITH touched AS (UPDATE message_threads SET updated_at = now() WHERE id = $1 RETURNING id)
            INSERT INTO messages (thread_id, sender_id, body, client_id) SELECT id, $2, $3, $4 FROM touched
            ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
            RETURNING {MESSAGE_COLUMNS}""",
        thread_id,
        principal.user_id,
        data.body,
        data.client_id,
    )
    if row is None:  # a concurrent request with this clientId committed first
        first = await _by_client_id(conn, principal.user_id, data.client_id or "")
        assert first is not None
        return first
    attachments = []
    if data.attachment_ids:
        wanted = list(dict.fromkeys(data.attachment_ids))
        bound = await conn.fetch(
            """UPDATE message_attachments SET message_id = $1
               WHERE id = ANY($2::uuid[]) AND thread_id = $3 AND uploader_id = $4 AND message_id IS NULL
                 AND status IN ('processing', 'ready')
               RETURNING id""",
            row["id"],
            wanted,
            thread_id,
            principal.user_id,
        )
        if len(bound) != len(wanted):
            raise BadAttachments("an attachment is unknown, not yours, failed or already sent")
        attachments = (await attachments_of(conn, [row["id"]])).get(row["id"], [])
    message = message_read(row, attachments)
    uow.emit(
        MessageCreated(
            message_id=message.id,
            thread_id=thread_id,
            sender_id=principal.user_id,
            body=message.body,
            listing_id=listing_id,
            client_id=message.client_id,
            created_at=message.created_at,
            attachments=[
                {"id": str(a.id), "name": a.name, "contentType": a.content_type, "size": a.size, "url": a.url}
                for a in attachments
            ],
        ),
        channels.thread_channels(thread_id, member_ids),
    )
    return message


async def _by_client_id(conn: asyncpg.Connection, sender: uuid.UUID, client_id: str) -> MessageRead | None:
    row = await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_id = $2", sender, client_id
    )
    if row is None:
        return None
    return message_read(row, (await attachments_of(conn, [row["id"]])).get(row["id"]))


async def _thread(conn: asyncpg.Connection, reader: uuid.UUID, thread_id: uuid.UUID) -> ThreadRead:
    row = await conn.fetchrow(
        f"""SELECT t.id, t.listing_id, t.created_at, t.updated_at,
                   coalesce({UNREAD_SQL}, 0) AS unread
            FROM message_threads t LEFT JOIN thread_participants p ON p.thread_id = t.id AND p.user_id = $2
            WHERE t.id = $1""",
        thread_id,
        reader,
    )
    return (await threads_read(conn, [row]))[0]


async def mark_read(principal: Principal, thread_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """Everything up to `message_id` is read for the caller; `message.read` goes out when that moved."""
    async with UnitOfWork() as uow:
        conn = uow.conn
        await policy.require_member(conn, principal, thread_id)
        position = await conn.fetchval(
            "SELECT position FROM messages WHERE id = $1 AND thread_id = $2", message_id, thread_id
        )
        if position is None:
            raise NotFound("message not found in this thread", code="message_not_found")
        moved = await conn.fetchval(
            """UPDATE thread_participants SET last_read_position = $3
               WHERE thread_id = $1 AND user_id = $2 AND last_read_position < $3 RETURNING 1""",
            thread_id,
            principal.user_id,
            position,
        )
        if moved:
            # A receipt is worth no disk flush of its own: losing one in a crash costs a tick.
            uow.durable = False
            uow.emit(
                MessageMarkedRead(thread_id=thread_id, user_id=principal.user_id, message_id=message_id),
                [channels.thread(thread_id), channels.user(principal.user_id)],
            )


async def block(principal: Principal, user_id: uuid.UUID) -> None:
    """The caller stops hearing from `user_id` (idempotent)."""
    if user_id == principal.user_id:
        raise ValidationFailed("you cannot block yourself", errors=[{"field": "id", "message": "is you"}])
    async with UnitOfWork() as uow:
        if not await uow.conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id):
            raise NotFound("user not found")
        await uow.conn.execute(
            "INSERT INTO user_blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            principal.user_id,
            user_id,
        )


async def unblock(principal: Principal, user_id: uuid.UUID) -> None:
    async with UnitOfWork() as uow:
        await uow.conn.execute(
            "DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2", principal.user_id, user_id
        )


async def report(principal: Principal, message_id: uuid.UUID, data: ReportCreate) -> ReportRead:
    """A participant reports a message into the admin moderation queue (once per reporter and message)."""
    async with UnitOfWork() as uow:
        conn = uow.conn
        thread_id = await conn.fetchval("SELECT thread_id FROM messages WHERE id = $1", message_id)
        if thread_id is None or not await conn.fetchval(
            "SELECT 1 FROM thread_participants WHERE thread_id = $1 AND user_id = $2",
            thread_id,
            principal.user_id,
        ):
            raise NotFound("message not found", code="message_not_found")
        row = await conn.fetchrow(
            """INSERT INTO message_reports (message_id, reporter_id, reason) VALUES ($1, $2, $3)
               ON CONFLICT (message_id, reporter_id)
               DO UPDATE SET reason = EXCLUDED.reason, status = 'open', resolved_by = NULL, resolved_at = NULL
               RETURNING id, message_id, status, created_at""",
            message_id,
            principal.user_id,
            data.reason,
        )
        return ReportRead(
            id=row["id"], message_id=row["message_id"], status=row["status"], created_at=row["created_at"]
        )

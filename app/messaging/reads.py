"""Rows to wire shapes, and the batched lookups that fill them (participants, attachments, last messages)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from app.accounts.profiles import display_name
from app.messaging.schemas import AttachmentRead, MessageRead, ParticipantRead, ThreadRead

MESSAGE_COLUMNS = "id, position, thread_id, sender_id, body, client_id, created_at"


def attachment_url(thread_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    return f"/api/threads/{thread_id}/attachments/{attachment_id}"


def attachment_read(row) -> AttachmentRead:
    return AttachmentRead(
        id=row["id"],
        name=row["name"],
        content_type=row["content_type"],
        size=row["size"],
        url=attachment_url(row["thread_id"], row["id"]),
    )


def message_read(row, attachments: list[AttachmentRead] | None = None) -> MessageRead:
    return MessageRead(
        id=row["id"],
        thread_id=row["thread_id"],
        sender_id=row["sender_id"],
        body=row["body"],
        attachments=attachments or [],
        client_id=row["client_id"],
        created_at=row["created_at"],
    )


async def attachments_of(conn: asyncpg.Connection, message_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list]:
    ids = list(message_ids)
    if not ids:
        return {}
    rows = await conn.fetch(
        """SELECT id, thread_id, message_id, name, content_type, size FROM message_attachments
           WHERE message_id = ANY($1::uuid[]) ORDER BY created_at, id""",
        ids,
    )
    found: dict[uuid.UUID, list] = {}
    for row in rows:
        found.setdefault(row["message_id"], []).append(attachment_read(row))
    return found


async def messages_read(conn: asyncpg.Connection, rows: list) -> list[MessageRead]:
    attachments = await attachments_of(conn, (r["id"] for r in rows))
    return [message_read(r, attachments.get(r["id"])) for r in rows]


async def participants_of(
    conn: asyncpg.Connection, thread_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[ParticipantRead]]:
    ids = list(thread_ids)
    rows = await conn.fetch(
        """SELECT p.thread_id, p.user_id, p.role, u.first_name, u.last_name, u.company_name,
                  (SELECT m.id FROM messages m WHERE m.thread_id = p.thread_id AND m.position <= p.last_read_position
                   ORDER BY m.position DESC LIMIT 1) AS last_read
           FROM thread_participants p JOIN users u ON u.id = p.user_id
           WHERE p.thread_id = ANY($1::uuid[])
           ORDER BY array_position(ARRAY['buyer', 'seller', 'broker']::varchar[], p.role)""",
        ids,
    )
    found: dict[uuid.UUID, list[ParticipantRead]] = {}
    for row in rows:
        found.setdefault(row["thread_id"], []).append(
            ParticipantRead(
                user_id=row["user_id"],
                role=row["role"],
                display_name=display_name(row),
                last_read_message_id=row["last_read"],
            )
        )
    return found


async def last_messages(
    conn: asyncpg.Connection, thread_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MessageRead]:
    ids = list(thread_ids)
    rows = await conn.fetch(
        f"""SELECT m.* FROM unnest($1::uuid[]) AS t (id)
            CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = t.id
                                ORDER BY created_at DESC, id DESC LIMIT 1) m""",
        ids,
    )
    return {m.thread_id: m for m in await messages_read(conn, list(rows))}


async def threads_read(conn: asyncpg.Connection, rows: list) -> list[ThreadRead]:
    """Rows with id, listing_id, created_at, updated_at and unread → full threads (three queries per page)."""
    ids = [r["id"] for r in rows]
    participants = await participants_of(conn, ids)
    last = await last_messages(conn, ids)
    return [
        ThreadRead(
            id=r["id"],
            listing_id=r["listing_id"],
            participants=participants.get(r["id"], []),
            last_message=last.get(r["id"]),
            unread_count=r["unread"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


# Unread for one reader ($1 = user): messages of the thread after their read marker, not their own.
UNREAD_SQL = """(SELECT count(*) FROM messages m WHERE m.thread_id = t.id
                 AND m.position > p.last_read_position AND m.sender_id <> p.user_id)"""

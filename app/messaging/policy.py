"""Who may see and write in a thread: participants (and admins, audited, for reading); nobody else learns
that a thread exists (404). One place, asked by REST, the `/ws` channel check and the workers."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from app.auth.principal import Principal
from app.core import audit, db
from app.core.errors import Conflict, NotFound

# Listings nobody but their owner can see: no thread may be opened about them.
HIDDEN_LISTING_STATUSES = ("draft", "withdrawn", "suspended")


class ThreadNotFound(NotFound):
    code, title = "thread_not_found", "Thread not found"


class Blocked(Conflict):
    code, title = "blocked", "You cannot message this user"


async def is_participant(thread_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether `user_id` takes part in the thread (the realtime `thread:<id>` check)."""
    row = await db.fetchrow(
        "SELECT 1 FROM thread_participants WHERE thread_id = $1 AND user_id = $2", thread_id, user_id
    )
    return row is not None


async def participant_ids(conn: asyncpg.Connection, thread_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT user_id FROM thread_participants WHERE thread_id = $1 ORDER BY role", thread_id
    )
    return [r["user_id"] for r in rows]


async def require_member(conn: asyncpg.Connection, principal: Principal, thread_id: uuid.UUID) -> list:
    """The thread's participants when the caller is one of them; 404 otherwise (admins included:
    writing is for participants only)."""
    rows = await conn.fetch(
        "SELECT user_id, role, last_read_position FROM thread_participants WHERE thread_id = $1", thread_id
    )
    if not any(r["user_id"] == principal.user_id for r in rows):
        raise ThreadNotFound("thread not found")
    return list(rows)


async def require_reader(conn: asyncpg.Connection, principal: Principal, thread_id: uuid.UUID) -> bool:
    """Participants and admins may read; an admin who is not a participant reads on the record.
    True when the caller is a participant. 404 for everyone else, and for threads that do not exist."""
    if await conn.fetchval(
        "SELECT 1 FROM thread_participants WHERE thread_id = $1 AND user_id = $2",
        thread_id,
        principal.user_id,
    ):
        return True
    if principal.is_admin and await conn.fetchval("SELECT 1 FROM message_threads WHERE id = $1", thread_id):
        await audit.record(
            conn,
            actor_id=principal.user_id,
            action="thread.read",
            subject_type="thread",
            subject_id=thread_id,
        )
        return False
    raise ThreadNotFound("thread not found")


class Sender(msgspec.Struct, frozen=True):
    """What a send needs to know about its thread, read in one query."""

    members: list[uuid.UUID]
    listing_id: uuid.UUID
    blocked: bool
    duplicate: bool


async def check_sender(
    conn: asyncpg.Connection, principal: Principal, thread_id: uuid.UUID, client_id: str | None
) -> Sender:
    """The thread's participants when the caller is one (404 otherwise), whether another participant has
    blocked the caller, and whether the caller already sent a message with `client_id`."""
    row = await conn.fetchrow(
        """SELECT t.listing_id, array_agg(p.user_id) AS members,
                  EXISTS (SELECT 1 FROM user_blocks b JOIN thread_participants o
                          ON o.thread_id = $1 AND o.user_id = b.blocker_id
                          WHERE b.blocked_id = $2) AS blocked,
                  $3::varchar IS NOT NULL AND EXISTS (SELECT 1 FROM messages m
                                                     WHERE m.sender_id = $2 AND m.client_id = $3) AS duplicate
           FROM message_threads t JOIN thread_participants p ON p.thread_id = t.id
           WHERE t.id = $1 GROUP BY t.listing_id""",
        thread_id,
        principal.user_id,
        client_id,
    )
    if row is None or principal.user_id not in row["members"]:
        raise ThreadNotFound("thread not found")
    return Sender(list(row["members"]), row["listing_id"], row["blocked"], row["duplicate"])


async def ensure_not_blocked(conn: asyncpg.Connection, sender: uuid.UUID, others: list[uuid.UUID]) -> None:
    """409 `blocked` when any of `others` has blocked `sender`."""
    if others and await conn.fetchval(
        "SELECT 1 FROM user_blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::uuid[]) LIMIT 1",
        sender,
        others,
    ):
        raise Blocked("a participant of this conversation has blocked you")

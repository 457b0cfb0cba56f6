"""Who may see and write in a thread: participants (and admins, audited, for reading); nobody else learns
that a thread exists (404). One place, asked by REST, the `/ws` channel check and the workers."""

from __future__ import annotations

import uuid

import asyncpg

from app.auth.principal import Principal
from app.core import audit, db
from app.core.errors import Conflict, NotFound

# Listings nobody but their owner can see: no thread may be opened about them.
HIDDEN_LISTING_STATUSES = ("draft", "withdrawn", "suspended")


class ThreadNotFound(NotFound):
    code, title = "thread_not_found", "Thread not found"


class Blocked(Conflict):
    code, title = "blocked", "You cannot message this user"


def display_name(row) -> str:
    name = f"{row['first_name'] or ''} {row['last_name'] or ''}".strip()
    return name or row["company_name"] or "ATP user"


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


async def ensure_not_blocked(conn: asyncpg.Connection, sender: uuid.UUID, others: list[uuid.UUID]) -> None:
    """409 `blocked` when any of `others` has blocked `sender`."""
    if others and await conn.fetchval(
        "SELECT 1 FROM user_blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::uuid[]) LIMIT 1",
        sender,
        others,
    ):
        raise Blocked("a participant of this conversation has blocked you")

"""The audit trail: one append-only row per privileged action, written in the action's transaction."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from app.core.logging import request_id_var


async def record(
    conn: asyncpg.Connection,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: str | uuid.UUID,
    data: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (actor_id, action, subject_type, subject_id, data, request_id, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, now())""",
        actor_id,
        action,
        subject_type,
        str(subject_id),
        msgspec.json.encode(data or {}).decode(),
        request_id_var.get(),
    )

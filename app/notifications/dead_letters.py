"""The admins' dead-letter view: webhook and notification deliveries that exhausted their retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.auth.principal import Principal
from app.core import audit, db
from app.core.db import UnitOfWork
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor
from app.notifications.schemas import DeadLetterRead
from app.webhooks.service import DeliveryPending

_UNION = """
    SELECT d.id, 'webhook' AS source, 'webhook' AS channel, e.owner_id AS user_id, d.event_type AS subject,
           d.attempt, d.last_error, d.dead_at, d.created_at
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.status = 'dead'
    UNION ALL
    SELECT d.id, 'notification', d.channel, d.user_id, n.kind, d.attempt, d.last_error, d.dead_at, d.created_at
    FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.status = 'dead'
"""
_ANY_STATUS = _UNION.replace("d.status = 'dead'", "true")


async def list_dead_letters(
    principal: Principal, *, source: str | None, limit: int, cursor: str | None
) -> Page[DeadLetterRead]:
    """Dead deliveries of both kinds, most recently dead first."""
    principal.require("admin:users")
    after = decode_cursor(cursor, 2)
    args: list[Any] = [limit + 1]
    where = "true"
    if source is not None:
        args.append(source)
        where += f" AND source = ${len(args)}"
    if after is not None:
        try:
            dead_at, last_id = datetime.fromisoformat(after[0]), uuid.UUID(after[1])
        except (TypeError, ValueError):
            raise ValidationFailed(
                "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
            ) from None
        args += [dead_at, last_id]
        where += f" AND (dead_at, id) < (${len(args) - 1}, ${len(args)})"
    rows = await db.fetch(
        f"SELECT * FROM ({_UNION}) dl WHERE {where} ORDER BY dead_at DESC, id DESC LIMIT $1", *args
    )
    items = [DeadLetterRead(**dict(r)) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last["dead_at"].isoformat(), str(last["id"])])
    return Page(items=items, next_cursor=next_cursor)


async def replay(principal: Principal, dead_letter_id: uuid.UUID) -> DeadLetterRead:
    """Queue a dead delivery again with a fresh retry schedule (audited)."""
    principal.require("admin:users")
    async with UnitOfWork() as uow:
        conn = uow.conn
        source = "webhook"
        updated = await conn.fetchval(
            """UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = now(), dead_at = NULL,
                      updated_at = now() WHERE id = $1 AND status = 'dead' RETURNING id""",
            dead_letter_id,
        )
        if updated is None:
            source = "notification"
            updated = await conn.fetchval(
                """UPDATE notification_deliveries SET status = 'pending', step = 0, next_attempt_at = now(),
                          dead_at = NULL, lease_until = NULL, updated_at = now()
                   WHERE id = $1 AND status = 'dead' RETURNING id""",
                dead_letter_id,
            )
        if updated is None:
            exists = await conn.fetchval(
                """SELECT 1 FROM webhook_deliveries WHERE id = $1
                   UNION ALL SELECT 1 FROM notification_deliveries WHERE id = $1""",
                dead_letter_id,
            )
            if exists:
                raise DeliveryPending("only a dead delivery can be replayed here")
            raise NotFound("dead letter not found")
        await audit.record(
            conn,
            actor_id=principal.user_id,
            action="dead_letter.replay",
            subject_type=f"{source}_delivery",
            subject_id=dead_letter_id,
        )
        row = await conn.fetchrow(f"SELECT * FROM ({_ANY_STATUS}) dl WHERE id = $1", dead_letter_id)
    assert row is not None
    return DeadLetterRead(**dict(row))

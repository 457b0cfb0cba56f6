"""Housekeeping jobs; each is idempotent, so arq running it twice is harmless."""

from __future__ import annotations

import os
from typing import Any

from app.core import db

# Tables of outbox consumers that keep their own position (app/core/consumers.py).
OUTBOX_CURSOR_TABLES = ("search_cursors", "notification_cursors", "webhook_cursors", "analytics_cursors")
PRUNE_BATCH = 10_000


async def prune_expired_credentials(ctx: dict[str, Any]) -> dict[str, int]:
    """Drop refresh tokens past their family's absolute expiry and idempotency keys older than 48 h."""
    tokens = await db.fetch(
        "DELETE FROM refresh_tokens WHERE family_expires_at < now() - interval '1 day' RETURNING 1"
    )
    keys = await db.fetch(
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '48 hours' RETURNING 1"
    )
    return {"refresh_tokens": len(tokens), "idempotency_keys": len(keys)}


async def prune_outbox(ctx: dict[str, Any], retention_s: float | None = None) -> dict[str, int]:
    """Delete outbox rows that everyone is done with, oldest first, in short batches.

    A row goes when the relay published it more than the retention ago (default 7 days,
    `ATP_OUTBOX_RETENTION_S`) and every outbox consumer that ran within that window has read past
    it. A consumer idle for longer than the retention (e.g. the Meilisearch indexer after the
    backend was switched off) no longer holds rows back: it restarts from what is still there.
    """
    if retention_s is None:
        retention_s = float(os.environ.get("ATP_OUTBOX_RETENTION_S", str(7 * 86_400)))
    consumers = " UNION ALL ".join(
        f"SELECT position FROM {table} WHERE updated_at > now() - make_interval(secs => $1)"
        for table in OUTBOX_CURSOR_TABLES
    )
    deleted = 0
    while True:
        rows = await db.fetch(
            f"""DELETE FROM outbox_events WHERE position IN (
                    SELECT position FROM outbox_events
                    WHERE published_at < now() - make_interval(secs => $1)
                      AND position <= coalesce((SELECT min(position) FROM ({consumers}) c), 9223372036854775807)
                    ORDER BY position LIMIT $2)
                RETURNING 1""",
            retention_s,
            PRUNE_BATCH,
        )
        deleted += len(rows)
        if len(rows) < PRUNE_BATCH:
            return {"outbox_events": deleted}

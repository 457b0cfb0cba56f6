"""Housekeeping jobs; each is idempotent, so arq running it twice is harmless."""

from __future__ import annotations

from typing import Any

from app.core import db


async def prune_expired_credentials(ctx: dict[str, Any]) -> dict[str, int]:
    """Drop refresh tokens past their family's absolute expiry and idempotency keys older than 48 h."""
    tokens = await db.fetch(
        "DELETE FROM refresh_tokens WHERE family_expires_at < now() - interval '1 day' RETURNING 1"
    )
    keys = await db.fetch(
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '48 hours' RETURNING 1"
    )
    return {"refresh_tokens": len(tokens), "idempotency_keys": len(keys)}

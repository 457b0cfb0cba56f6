"""Offer expiry jobs; each is idempotent and all-or-nothing, so arq running one twice is harmless."""

from __future__ import annotations

import uuid
from typing import Any

from app.deals import service

BATCH = 200


async def expire_offer(ctx: dict[str, Any], offer_id: str) -> int:
    """Expire one offer at its expiresAt (nothing if it already ended or was countered to a later time)."""
    return await service.expire_due_offers(1, offer_id=uuid.UUID(offer_id))


async def sweep_offers(ctx: dict[str, Any]) -> int:
    """Catch-all for lost or late jobs and for downtime: expire every overdue offer, batch by batch."""
    total = 0
    while True:
        expired = await service.expire_due_offers(BATCH)
        total += expired
        if expired < BATCH:
            return total


async def lapse_subscriptions(ctx: dict[str, Any]) -> int:
    """Subscriptions whose paid period ended: cancelled ones end, unpaid ones go past due."""
    from app.payments import subscriptions

    return await subscriptions.lapse_due()

"""Expiry jobs for holds and customer reservations; each is idempotent, so arq running it twice is harmless."""

from __future__ import annotations

import uuid
from typing import Any

from app.reservations import customers, service
from app.reservations.jobs import schedule_expiries

BATCH = 200


async def expire_hold(ctx: dict[str, Any], hold_id: str) -> int:
    """Expire one hold at its expiresAt (nothing if it already ended); promoted holds get their own job."""
    due = await service.expire_hold(uuid.UUID(hold_id))
    await schedule_expiries(ctx["redis"], due)
    return len(due)


async def expire_reservation(ctx: dict[str, Any], reservation_id: str) -> int:
    """Expire one customer reservation at its expiresAt (nothing if it already ended)."""
    return await customers.expire_due_reservations(reservation=uuid.UUID(reservation_id))


async def sweep_expired(ctx: dict[str, Any]) -> dict[str, int]:
    """Catch-all for lost or late jobs and for downtime: expire everything overdue, batch by batch."""
    totals = {"holds": 0, "reservations": 0}
    while True:
        holds, due = await service.expire_due_holds(BATCH)
        await schedule_expiries(ctx["redis"], due)
        reservations = await customers.expire_due_reservations(limit=BATCH)
        totals["holds"] += holds
        totals["reservations"] += reservations
        if holds < BATCH and reservations < BATCH:
            return totals

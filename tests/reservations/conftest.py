"""Fixtures for reservations: the shared people, seller, admin and listing (tests/people.py), holds.

No app imports at module level: this conftest loads before the root one has started PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid

from tests.people import People, assert_problem, listing_body, tail

__all__ = ["People", "assert_problem", "listing_body", "tail"]


async def gather(*aws):
    return await asyncio.gather(*aws)


async def active_holds(listing_id: str) -> list:
    from app.core import db

    return await db.fetch(
        "SELECT * FROM listing_holds WHERE listing = $1 AND status = 'active'", uuid.UUID(listing_id)
    )


async def backdate_hold(hold_id: str, seconds: int = 1) -> None:
    """Make a hold due now (expires_at in the past) without waiting for real time."""
    from app.core import db

    await db.fetch(
        """UPDATE listing_holds SET placed_at = now() - interval '1 hour',
               expires_at = now() - make_interval(secs => $2) WHERE id = $1""",
        uuid.UUID(hold_id),
        seconds,
    )

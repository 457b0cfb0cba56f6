"""Plans and what they allow: commission rate, listing limits, API rate; read by other domains."""

from __future__ import annotations

import uuid
from decimal import Decimal

from app.core.errors import AppError

DEFAULT_PLAN = "basic"

# The user's plan: their live subscription's, or basic when they have none.
_PLAN_OF = """
SELECT p.* FROM plans p
WHERE p.id = coalesce(
    (SELECT plan FROM subscriptions WHERE user_id = $1 AND status IN ('active', 'past_due')
     ORDER BY created_at DESC LIMIT 1), $2)
"""


class PlanLimitReached(AppError):
    status, code, title = 402, "plan_limit_reached", "Your plan's limit is reached"


async def plan_of(conn, user_id: uuid.UUID):
    """The plan row that applies to `user_id` now."""
    return await conn.fetchrow(_PLAN_OF, user_id, DEFAULT_PLAN)


async def commission_rate(conn, seller_id: uuid.UUID) -> Decimal:
    """The commission rate of the seller's plan."""
    return (await plan_of(conn, seller_id))["commission_rate"]

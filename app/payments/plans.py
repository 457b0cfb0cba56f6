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


# Listings that count against `activeListings`: on the market or in a trade.
LIVE_LISTINGS = ("active", "on_hold", "under_contract")


async def check_listing_limit(conn, seller_id: uuid.UUID, *, featured: bool = False) -> None:
    """402 `plan_limit_reached` when one more active (or featured) listing would pass the seller's plan.

    Every account is metered: one without a live subscription (never subscribed, or lapsed) is held to
    basic, the plan it falls back to. Concurrent checks for one seller take turns.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('plan-limit:' || $1::uuid::text, 0))", seller_id
    )
    plan = await plan_of(conn, seller_id)
    if featured:
        used = await conn.fetchval(
            "SELECT count(*) FROM listings WHERE seller = $1 AND featured AND status = ANY($2::text[])",
            seller_id,
            list(LIVE_LISTINGS),
        )
        limit, name = plan["featured_listings"], "featuredListings"
    else:
        used = await conn.fetchval(
            "SELECT count(*) FROM listings WHERE seller = $1 AND status = ANY($2::text[])",
            seller_id,
            list(LIVE_LISTINGS),
        )
        limit, name = plan["active_listings"], "activeListings"
    if used >= limit:
        raise PlanLimitReached(
            f"the {plan['id']} plan allows {limit} {name}; upgrade to add more",
            plan=plan["id"],
            limit=name,
            allowed=limit,
        )


async def api_requests_per_minute(conn, user_id: uuid.UUID) -> int:
    """The API-key request rate the user's plan allows (basic without a subscription)."""
    return (await plan_of(conn, user_id))["api_requests_per_minute"]


async def enforce_api_rate(redis, conn_source, principal) -> None:
    """429 `rate_limited` when an API key's owner passed their plan's requests per minute.

    One counter per user and minute in Redis (INCR is atomic across web processes). A Redis outage
    lets the request through: the limit protects capacity, it is not a security boundary.
    """
    import time

    from redis.exceptions import RedisError

    from app.core.errors import RateLimited

    async with conn_source.acquire() as conn:
        allowed = await api_requests_per_minute(conn, principal.user_id)
    window = int(time.time() // 60)
    key = f"atp:plans:api-rate:{principal.user_id}:{window}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            used, _ = await pipe.incr(key).expire(key, 120).execute()
    except RedisError:
        return
    if used > allowed:
        raise RateLimited(
            f"your plan allows {allowed} API requests per minute", retry_after=60 - int(time.time()) % 60
        )

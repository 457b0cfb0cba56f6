"""Browser push subscriptions of a user."""

from __future__ import annotations

from app.auth.principal import Principal
from app.core import db, outbound
from app.core.errors import Conflict, ValidationFailed
from app.notifications.schemas import PushSubscriptionCreate, PushSubscriptionRead

MAX_SUBSCRIPTIONS = 20


class PushEndpointForbidden(ValidationFailed):
    code, title = "push_endpoint_forbidden", "Push endpoint not allowed"


class PushEndpointTaken(Conflict):
    code, title = "push_endpoint_taken", "Push endpoint registered by another account"


async def subscribe(
    principal: Principal, data: PushSubscriptionCreate, allow_hosts: tuple[str, ...]
) -> PushSubscriptionRead:
    """Store (or refresh the keys of) the caller's browser subscription; its endpoint must be a public https URL.

    An endpoint stays with the account that registered it: another account gets 409 `push_endpoint_taken`
    (knowing an endpoint URL must not let anyone redirect its owner's notifications to themselves).
    """
    try:
        await outbound.resolve(data.endpoint, allow_hosts)
    except outbound.UnsafeUrl as exc:
        raise PushEndpointForbidden(str(exc), errors=[{"field": "endpoint", "message": str(exc)}]) from None
    row = await db.fetchrow(
        """INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)
           ON CONFLICT (endpoint) DO UPDATE SET p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth
           WHERE push_subscriptions.user_id = EXCLUDED.user_id
           RETURNING id, endpoint, created_at""",
        principal.user_id,
        data.endpoint,
        data.keys.p256dh,
        data.keys.auth,
    )
    if row is None:
        raise PushEndpointTaken(
            "this browser is registered for push by another account; it must turn it off first"
        )
    # Oldest browsers beyond the cap are forgotten: a user cannot grow the table without bound.
    await db.fetch(
        """DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
             SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)""",
        principal.user_id,
        MAX_SUBSCRIPTIONS,
    )
    return PushSubscriptionRead(id=row["id"], endpoint=row["endpoint"], created_at=row["created_at"])


async def unsubscribe(principal: Principal, endpoint: str) -> None:
    """Forget the caller's subscription; idempotent (we may already have dropped it after a 410)."""
    await db.fetch(
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2", principal.user_id, endpoint
    )

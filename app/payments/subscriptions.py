"""Plans and subscriptions: subscribe (pending until the provider confirms), renew, cancel at period end, lapse."""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, NotFound
from app.payments import ledger
from app.payments.providers import PaymentProvider
from app.payments.schemas import PlanRead, SubscriptionCreate, SubscriptionRead, plan_read, subscription_read

LIVE = ("incomplete", "active", "past_due")


class AlreadySubscribed(Conflict):
    code, title = "already_subscribed", "You already have a subscription"


async def list_plans() -> list[PlanRead]:
    return [plan_read(r) for r in await db.fetch("SELECT * FROM plans ORDER BY position")]


async def subscribe(
    provider: PaymentProvider, principal: Principal, data: SubscriptionCreate
) -> SubscriptionRead:
    """Start a subscription: `incomplete` with a pending first payment; active once the provider confirms."""
    plan = await db.fetchrow("SELECT * FROM plans WHERE id = $1", data.plan_id)
    if await db.fetchrow(
        "SELECT 1 FROM subscriptions WHERE user_id = $1 AND status = ANY($2::text[])",
        principal.user_id,
        list(LIVE),
    ):
        raise AlreadySubscribed("cancel the current subscription first")
    intent = await provider.create_subscription(
        amount=plan["price"],
        currency=plan["currency"],
        metadata={"userId": str(principal.user_id), "plan": plan["id"], "kind": "subscription"},
        idempotency_key=f"subscribe:{principal.user_id}:{uuid.uuid4()}",
    )
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            """INSERT INTO subscriptions (user_id, plan, status, provider, provider_subscription_id)
               VALUES ($1, $2, 'incomplete', $3, $4)
               ON CONFLICT (user_id) WHERE status IN ('incomplete', 'active', 'past_due') DO NOTHING RETURNING *""",
            principal.user_id,
            plan["id"],
            provider.name,
            intent.subscription_id,
        )
        if row is None:
            raise AlreadySubscribed("cancel the current subscription first")
        payment = await uow.conn.fetchrow(
            """INSERT INTO payments (provider, provider_payment_id, kind, user_id, subscription, amount, currency,
                                     client_secret)
               VALUES ($1, $2, 'subscription', $3, $4, $5, $6, $7) RETURNING *""",
            provider.name,
            intent.id,
            principal.user_id,
            row["id"],
            plan["price"],
            plan["currency"],
            intent.client_secret,
        )
    return subscription_read(row, payment)


async def grant(conn, user_id: uuid.UUID, plan: str) -> bool:
    """Put a user on `plan` for a month without a payment (demo accounts, operators, test sellers);
    False when they already have a live subscription, which is left as it is."""
    row = await conn.fetchrow(
        """INSERT INTO subscriptions (user_id, plan, status, current_period_end, provider)
           VALUES ($1, $2, 'active', now() + interval '1 month', 'complimentary')
           ON CONFLICT (user_id) WHERE status IN ('incomplete', 'active', 'past_due') DO NOTHING RETURNING id""",
        user_id,
        plan,
    )
    return row is not None


async def current(principal: Principal) -> SubscriptionRead:
    row = await db.fetchrow(
        "SELECT * FROM subscriptions WHERE user_id = $1 AND status = ANY($2::text[]) ORDER BY created_at DESC LIMIT 1",
        principal.user_id,
        list(LIVE),
    )
    if row is None:
        raise NotFound("no subscription", code="no_subscription")
    payment = await db.fetchrow(
        "SELECT * FROM payments WHERE subscription = $1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1",
        row["id"],
    )
    return subscription_read(row, payment)


async def cancel(provider: PaymentProvider, principal: Principal) -> SubscriptionRead:
    """Cancel at the end of the paid period (an unpaid one ends now)."""
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            """SELECT * FROM subscriptions WHERE user_id = $1 AND status IN ('incomplete', 'active', 'past_due')
               FOR UPDATE""",
            principal.user_id,
        )
        if row is None:
            raise NotFound("no subscription", code="no_subscription")
        status = "canceled" if row["status"] == "incomplete" else row["status"]
        row = await uow.conn.fetchrow(
            """UPDATE subscriptions SET cancel_at_period_end = true, status = $2, updated_at = now()
               WHERE id = $1 RETURNING *""",
            row["id"],
            status,
        )
    if row["provider_subscription_id"] and row["status"] != "canceled" and provider.name == row["provider"]:
        await provider.cancel_subscription(provider_subscription_id=row["provider_subscription_id"])
    return subscription_read(row)


async def first_payment(uow: UnitOfWork, payment) -> None:
    """The first period is paid: the subscription becomes active for a month."""
    await ledger.book_subscription(
        uow,
        key=f"payment:{payment['id']}",
        amount=payment["amount"],
        currency=payment["currency"],
        subscription=payment["subscription"],
        payment=payment["id"],
    )
    await uow.conn.execute(
        """UPDATE subscriptions SET status = 'active', updated_at = now(),
                  current_period_end = greatest(current_period_end, now() + interval '1 month')
           WHERE id = $1 AND status IN ('incomplete', 'past_due')""",
        payment["subscription"],
    )


async def apply(uow: UnitOfWork, provider: str, event_type: str, event_id: str, obj: dict[str, Any]) -> None:
    """Subscription events: `invoice.paid` pays the first period (a Billing subscription's first invoice is
    our pending payment) or renews, `.updated` carries cancel-at-period-end, `.deleted` lapses."""
    if event_type == "invoice.paid":
        from app.payments import service

        invoice_id = str(obj.get("id") or "")
        if await uow.conn.fetchval(
            "SELECT 1 FROM payments WHERE provider = $1 AND provider_payment_id = $2", provider, invoice_id
        ):
            await service.advance(uow, provider, invoice_id, "succeeded", [])
            return
        # Since Stripe's API version 2025-03-31 an invoice names its subscription under `parent`.
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        sub_id = str(obj.get("subscription") or details.get("subscription") or "")
    else:
        sub_id = str(obj.get("id") or "")
    row = await uow.conn.fetchrow(
        "SELECT s.*, p.price, p.currency FROM subscriptions s JOIN plans p ON p.id = s.plan"
        " WHERE s.provider = $1 AND s.provider_subscription_id = $2 FOR UPDATE OF s",
        provider,
        sub_id,
    )
    if row is None:
        return
    if event_type == "invoice.paid":
        await ledger.book_subscription(
            uow,
            key=f"invoice:{obj.get('id') or event_id}",
            amount=row["price"],
            currency=row["currency"],
            subscription=row["id"],
        )
        period_end = (obj.get("lines") or {}).get("period_end") or obj.get("period_end")
        await uow.conn.execute(
            """UPDATE subscriptions SET updated_at = now(),
                      status = CASE WHEN status = 'canceled' THEN status ELSE 'active' END,
                      current_period_end = greatest(current_period_end,
                          coalesce(to_timestamp($2::bigint), now() + interval '1 month'))
               WHERE id = $1""",
            row["id"],
            int(period_end) if isinstance(period_end, int) else None,
        )
    elif event_type == "customer.subscription.updated":
        status = obj.get("status")
        await uow.conn.execute(
            """UPDATE subscriptions SET updated_at = now(), cancel_at_period_end = $2,
                      status = CASE WHEN status = 'canceled' THEN status
                                    WHEN $3::text IN ('active', 'past_due') THEN $3::text ELSE status END
               WHERE id = $1""",
            row["id"],
            bool(obj.get("cancel_at_period_end")),
            status if isinstance(status, str) else None,
        )
    else:  # customer.subscription.deleted: the subscription is over, whatever came before
        await uow.conn.execute(
            "UPDATE subscriptions SET status = 'canceled', updated_at = now() WHERE id = $1", row["id"]
        )


async def lapse_due(limit: int = 200) -> int:
    """Subscriptions past their paid period: those cancelled at period end end (`canceled`), the others
    wait for their renewal as `past_due`; a `past_due` one more than 7 days over ends too. Safe to rerun."""
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            """UPDATE subscriptions SET updated_at = now(),
                      status = CASE WHEN cancel_at_period_end OR current_period_end < now() - interval '7 days'
                                    THEN 'canceled' ELSE 'past_due' END
               WHERE id IN (SELECT id FROM subscriptions
                            WHERE current_period_end <= now()
                              AND (status = 'active' OR (status = 'past_due'
                                   AND current_period_end < now() - interval '7 days'))
                            ORDER BY current_period_end LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id""",
            limit,
        )
    return len(rows)

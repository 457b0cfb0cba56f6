"""Payments: start a deposit, refund, and apply the provider's signed events to payments and the ledger.

An event is applied in one transaction with its ledger change, and only once: its id goes into
`payment_provider_events` (primary key provider + event id) first, so a replay finds it and changes
nothing. Order does not matter either: a payment only moves up the ranks pending < failed <
succeeded < refunded (Stripe never fails an intent that succeeded, and a refund implies the charge
succeeded), and every ledger booking has an effect key, so any order of any repeats ends the same.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, NotFound
from app.deals import events as deal_events
from app.deals.errors import DealClosed
from app.payments import ledger
from app.payments.providers import PaymentProvider
from app.payments.schemas import PaymentRead, payment_read

log = logging.getLogger("atp.payments")

RANK = {"pending": 0, "failed": 1, "succeeded": 2, "refunded": 3}


class DepositAlreadyPaid(Conflict):
    code, title = "deposit_already_paid", "The deposit is already paid"


async def start_deposit(provider: PaymentProvider, principal: Principal, deal_id: uuid.UUID) -> PaymentRead:
    """The buyer starts paying a deal's deposit: a pending payment at the provider (the pending one again
    if there is one)."""
    deal = await db.fetchrow("SELECT * FROM deals WHERE id = $1", deal_id)
    if deal is None or not deal_events.may_read(deal, principal.user_id, principal.is_admin):
        raise NotFound("deal not found")
    if deal["buyer"] != principal.user_id:
        raise Conflict("only the buyer pays the deposit", code="not_the_buyer")
    _check_payable(deal)
    pending = await db.fetchrow(
        "SELECT * FROM payments WHERE deal = $1 AND kind = 'deposit' AND status = 'pending' ORDER BY created_at LIMIT 1",
        deal_id,
    )
    if pending is not None:
        return payment_read(pending)
    attempt = await db.fetchrow("SELECT count(*) AS n FROM payments WHERE deal = $1", deal_id)
    intent = await provider.create_payment(
        amount=deal["deposit_amount"],
        currency=deal["currency"],
        metadata={"dealId": str(deal_id), "kind": "deposit"},
        idempotency_key=f"deposit:{deal_id}:{attempt['n']}",
    )
    async with UnitOfWork() as uow:
        deal = await uow.conn.fetchrow("SELECT * FROM deals WHERE id = $1 FOR UPDATE", deal_id)
        _check_payable(deal)
        # Two clicks at once: both asked the provider with the same idempotency key (so for the same
        # intent); under the deal's lock the second finds the first's payment and answers with it.
        pending = await uow.conn.fetchrow(
            "SELECT * FROM payments WHERE deal = $1 AND kind = 'deposit' AND status = 'pending' ORDER BY created_at LIMIT 1",
            deal_id,
        )
        if pending is not None:
            return payment_read(pending)
        row = await uow.conn.fetchrow(
            """INSERT INTO payments (provider, provider_payment_id, kind, user_id, deal, amount, currency, client_secret)
               VALUES ($1, $2, 'deposit', $3, $4, $5, $6, $7) RETURNING *""",
            provider.name,
            intent.id,
            principal.user_id,
            deal_id,
            deal["deposit_amount"],
            deal["currency"],
            intent.client_secret,
        )
        await uow.conn.execute(
            "UPDATE deals SET deposit_status = 'pending' WHERE id = $1 AND deposit_status = 'required'",
            deal_id,
        )
    return payment_read(row)


def _check_payable(deal) -> None:
    if deal["status"] != "under_contract":
        raise DealClosed(f"the deal is {deal['status']}", dealStatus=deal["status"])
    if deal["deposit_status"] in ("paid", "refunded"):
        raise DepositAlreadyPaid("the deposit is already paid")


async def refund_after_commit(provider: PaymentProvider, payment_id: uuid.UUID) -> None:
    """Ask the provider to refund a payment; its `charge.refunded` event books the refund. A provider
    outage is logged, not raised: the deal has fallen through already (admins refund from the ledger)."""
    row = await db.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id)
    try:
        await provider.refund(
            provider_payment_id=row["provider_payment_id"], idempotency_key=f"refund:{payment_id}"
        )
    except Exception:
        log.warning("refund of payment %s could not be requested now", payment_id, exc_info=True)


async def list_payments(principal: Principal, deal_id: uuid.UUID | None) -> list[PaymentRead]:
    """Payments of a deal (its parties, admin) or the caller's own."""
    if deal_id is not None:
        deal = await db.fetchrow("SELECT * FROM deals WHERE id = $1", deal_id)
        if deal is None or not deal_events.may_read(deal, principal.user_id, principal.is_admin):
            raise NotFound("deal not found")
        rows = await db.fetch(
            "SELECT * FROM payments WHERE deal = $1 ORDER BY created_at DESC LIMIT 100", deal_id
        )
    else:
        rows = await db.fetch(
            "SELECT * FROM payments WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100", principal.user_id
        )
    return [payment_read(r) for r in rows]


# --- inbound provider events ---------------------------------------------------------------------


async def apply_event(provider: str, event: dict[str, Any], raw: bytes) -> tuple[bool, list[uuid.UUID]]:
    """Apply one verified provider event once: (False, []) when its id was seen before (nothing
    changes); otherwise (True, payments to refund once this commits: a deposit that succeeded for a
    deal that had already fallen through)."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    async with UnitOfWork() as uow:
        seen = await uow.conn.fetchval(
            """INSERT INTO payment_provider_events (provider, event_id, event_type, payload)
               VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING event_id""",
            provider,
            event_id,
            event_type[:100],
            raw.decode(),
        )
        if seen is None:
            return False, []
        refunds: list[uuid.UUID] = []
        if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
            target = "succeeded" if event_type.endswith("succeeded") else "failed"
            await advance(uow, provider, str(obj.get("id") or ""), target, refunds)
        elif event_type == "charge.refunded":
            await advance(
                uow, provider, str(obj.get("payment_intent") or obj.get("id") or ""), "refunded", refunds
            )
        elif event_type in ("invoice.paid", "customer.subscription.updated", "customer.subscription.deleted"):
            from app.payments import subscriptions

            await subscriptions.apply(uow, provider, event_type, event_id, obj)
        return True, refunds


async def advance(
    uow: UnitOfWork, provider: str, provider_payment_id: str, target: str, refunds: list[uuid.UUID]
) -> None:
    """Move a payment up to `target` (never down) with every effect of each step it passes."""
    payment = await uow.conn.fetchrow(
        "SELECT * FROM payments WHERE provider = $1 AND provider_payment_id = $2 FOR UPDATE",
        provider,
        provider_payment_id,
    )
    if payment is None or RANK[target] <= RANK[payment["status"]]:
        return
    if target in ("succeeded", "refunded") and RANK[payment["status"]] < RANK["succeeded"]:
        if not await _succeeded(uow, payment) and target == "succeeded":
            refunds.append(payment["id"])
    if target == "refunded":
        await _refunded(uow, payment)
    if target == "failed" and payment["deal"] is not None:
        await uow.conn.execute(
            "UPDATE deals SET deposit_status = 'required' WHERE id = $1 AND deposit_status = 'pending'",
            payment["deal"],
        )
    await uow.conn.execute(
        "UPDATE payments SET status = $2, updated_at = now() WHERE id = $1", payment["id"], target
    )


async def _succeeded(uow: UnitOfWork, payment) -> bool:
    """Book a succeeded payment; False when it is a deposit for a deal no longer under contract."""
    if payment["kind"] == "subscription":
        from app.payments import subscriptions

        await subscriptions.first_payment(uow, payment)
        return True
    await ledger.book_deposit(uow, payment)
    deal = await uow.conn.fetchrow(
        """UPDATE deals SET deposit_status = 'paid' WHERE id = $1 AND status = 'under_contract'
           AND deposit_status IN ('required', 'pending') RETURNING *""",
        payment["deal"],
    )
    if deal is not None:
        deal_events.emit_deal(uow, "deposit_paid", deal)
        return True
    status = await uow.conn.fetchval("SELECT status FROM deals WHERE id = $1", payment["deal"])
    return status == "under_contract"  # paid twice for a live deal: kept, admins see it in the ledger


async def _refunded(uow: UnitOfWork, payment) -> None:
    await ledger.book_refund(uow, payment)
    if payment["deal"] is not None:
        await uow.conn.execute(
            "UPDATE deals SET deposit_status = 'refunded' WHERE id = $1 AND status = 'fallen_through'",
            payment["deal"],
        )


async def list_payments_by_id(payment_id: uuid.UUID) -> PaymentRead:
    row = await db.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id)
    return payment_read(row)

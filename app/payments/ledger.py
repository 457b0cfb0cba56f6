"""Double-entry ledger: every money movement is one transaction whose entries balance.

PostgreSQL checks the balance at commit (trigger `ledger_entries_balanced`); each transaction has an
`effect_key` (unique) naming the business effect it records, so booking the same effect twice — a
replayed provider event, a retried job — inserts nothing the second time.

Accounts: `provider_cash` (money held at the payment provider), `buyer_deposits_held`,
`seller_payable`, `platform_revenue:commission`, `platform_revenue:subscriptions`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec

from app.core.db import UnitOfWork

CASH = "provider_cash"
DEPOSITS_HELD = "buyer_deposits_held"
SELLER_PAYABLE = "seller_payable"
COMMISSION_REVENUE = "platform_revenue:commission"
SUBSCRIPTION_REVENUE = "platform_revenue:subscriptions"
ACCOUNTS = (CASH, DEPOSITS_HELD, SELLER_PAYABLE, COMMISSION_REVENUE, SUBSCRIPTION_REVENUE)

# The consistency query: every transaction whose debits differ from its credits (should be none).
UNBALANCED_SQL = """
SELECT t.id, coalesce(sum(e.debit), 0) AS debits, coalesce(sum(e.credit), 0) AS credits
FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction = t.id
GROUP BY t.id HAVING coalesce(sum(e.debit), 0) <> coalesce(sum(e.credit), 0)
   OR coalesce(sum(e.debit), 0) <> t.amount
"""


class Entry(msgspec.Struct, frozen=True):
    account: str
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)


async def book(
    uow: UnitOfWork,
    *,
    type: str,
    effect_key: str,
    amount: Decimal,
    currency: str,
    entries: list[Entry],
    deal: uuid.UUID | None = None,
    payment: uuid.UUID | None = None,
    subscription: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Record one balanced transaction once per `effect_key`; None when it was already booked (or zero)."""
    if amount <= 0:
        return None
    if sum(e.debit for e in entries) != sum(e.credit for e in entries):
        raise ValueError(f"ledger transaction {effect_key} does not balance")
    txn = await uow.conn.fetchval(
        """INSERT INTO ledger_transactions (type, amount, currency, deal, payment, subscription, effect_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (effect_key) DO NOTHING RETURNING id""",
        type,
        amount,
        currency,
        deal,
        payment,
        subscription,
        effect_key,
    )
    if txn is None:
        return None
    await uow.conn.executemany(
        "INSERT INTO ledger_entries (transaction, account, debit, credit) VALUES ($1, $2, $3, $4)",
        [(txn, e.account, e.debit, e.credit) for e in entries],
    )
    return txn


async def move(
    uow: UnitOfWork, type: str, key: str, amount: Decimal, currency: str, *, debit: str, credit: str, **refs
) -> None:
    """Book `amount` from the `credit` account to the `debit` account once per `type:key` (zero: nothing)."""
    entries = [Entry(debit, debit=amount), Entry(credit, credit=amount)]
    await book(
        uow, type=type, effect_key=f"{type}:{key}", amount=amount, currency=currency, entries=entries, **refs
    )


async def book_deposit(uow: UnitOfWork, payment) -> None:
    """The buyer's deposit reached the provider: the platform holds it for the deal."""
    await move(
        uow,
        "deposit",
        str(payment["id"]),
        payment["amount"],
        payment["currency"],
        debit=CASH,
        credit=DEPOSITS_HELD,
        deal=payment["deal"],
        payment=payment["id"],
    )


async def book_refund(uow: UnitOfWork, payment) -> None:
    """A payment went back to the payer (a deposit, or a subscription period)."""
    held = DEPOSITS_HELD if payment["kind"] == "deposit" else SUBSCRIPTION_REVENUE
    await move(
        uow,
        "refund",
        str(payment["id"]),
        payment["amount"],
        payment["currency"],
        debit=held,
        credit=CASH,
        deal=payment["deal"],
        payment=payment["id"],
    )


async def book_subscription(
    uow: UnitOfWork, *, key: str, amount: Decimal, currency: str, subscription, payment=None
) -> None:
    """A subscription period was paid."""
    await move(
        uow,
        "subscription",
        key,
        amount,
        currency,
        debit=CASH,
        credit=SUBSCRIPTION_REVENUE,
        subscription=subscription,
        payment=payment,
    )


async def book_close(uow: UnitOfWork, deal) -> None:
    """A deal closed: the held deposit becomes the seller's, less the commission at their plan's rate."""
    held = await uow.conn.fetchval(
        """SELECT coalesce(sum(e.credit) - sum(e.debit), 0) FROM ledger_entries e
           JOIN ledger_transactions t ON t.id = e.transaction
           WHERE t.deal = $1 AND e.account = $2""",
        deal["id"],
        DEPOSITS_HELD,
    )
    key, currency = str(deal["id"]), deal["currency"]
    await move(
        uow, "payout", key, held, currency, debit=DEPOSITS_HELD, credit=SELLER_PAYABLE, deal=deal["id"]
    )
    commission = deal["commission_amount"] or Decimal(0)
    await move(
        uow,
        "commission",
        key,
        commission,
        currency,
        debit=SELLER_PAYABLE,
        credit=COMMISSION_REVENUE,
        deal=deal["id"],
    )

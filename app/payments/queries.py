"""Ledger reads for admins: transactions with their entries, balances per account, the consistency check."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from app.core import db
from app.core.pagination import Page, keyset_page
from app.payments.ledger import UNBALANCED_SQL
from app.payments.schemas import (
    AccountBalance,
    LedgerCheck,
    LedgerEntryRead,
    LedgerReference,
    LedgerTransactionRead,
)


async def list_transactions(
    *, account: str | None, limit: int, cursor: str | None
) -> Page[LedgerTransactionRead]:
    """Ledger transactions, newest first, each with its entries; `account` keeps those touching it."""
    filters, args = [], []
    if account is not None:
        args.append(account)
        filters.append(
            "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction = ledger_transactions.id"
            " AND e.account = $1)"
        )
    page = await keyset_page(
        "ledger_transactions",
        filters=filters,
        args=args,
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=lambda row: row,
    )
    ids = [row["id"] for row in page.items]
    entries = defaultdict(list)
    for e in await db.fetch(
        "SELECT transaction, account, debit, credit FROM ledger_entries WHERE transaction = ANY($1::uuid[]) ORDER BY id",
        ids,
    ):
        entries[e["transaction"]].append(
            LedgerEntryRead(account=e["account"], debit=f"{e['debit']:.2f}", credit=f"{e['credit']:.2f}")
        )
    items = [
        LedgerTransactionRead(
            id=row["id"],
            type=row["type"],
            amount=f"{row['amount']:.2f}",
            currency=row["currency"],
            reference=LedgerReference(
                deal_id=row["deal"], payment_id=row["payment"], subscription_id=row["subscription"]
            ),
            entries=entries[row["id"]],
            created_at=row["created_at"],
        )
        for row in page.items
    ]
    return Page(items=items, next_cursor=page.next_cursor)


async def balances() -> list[AccountBalance]:
    rows = await db.fetch(
        """SELECT e.account, t.currency, sum(e.debit) AS debits, sum(e.credit) AS credits
           FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction
           GROUP BY e.account, t.currency ORDER BY e.account, t.currency"""
    )
    return [
        AccountBalance(
            account=r["account"],
            currency=r["currency"],
            debits=f"{r['debits']:.2f}",
            credits=f"{r['credits']:.2f}",
            balance=f"{r['debits'] - r['credits']:.2f}",
        )
        for r in rows
    ]


async def check() -> LedgerCheck:
    """The consistency query: every transaction balances and debits equal credits overall."""
    unbalanced = await db.fetch(UNBALANCED_SQL)
    totals = await db.fetchrow(
        "SELECT (SELECT count(*) FROM ledger_transactions) AS n, coalesce(sum(debit), 0) AS d,"
        " coalesce(sum(credit), 0) AS c FROM ledger_entries"
    )
    return LedgerCheck(
        transactions=totals["n"],
        unbalanced=[r["id"] for r in unbalanced],
        total_debits=f"{Decimal(totals['d']):.2f}",
        total_credits=f"{Decimal(totals['c']):.2f}",
    )

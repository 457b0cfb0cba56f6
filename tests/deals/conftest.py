"""Fixtures for offers, deals and payments (no app imports at module level: see tests/people.py)."""

from __future__ import annotations

import pytest

from tests.people import listing_body

__all__ = ["listing_body"]


@pytest.fixture(scope="session", autouse=True)
def sandbox_to_app(app):
    """The sandbox provider delivers its signed events to the app under test, in process."""
    import httpx

    provider = app.state.payments
    provider.transport = httpx.ASGITransport(app=app)
    provider.webhook_url = "http://testserver/api/payments/webhooks/stripe"
    return provider


async def ledger_balanced() -> None:
    """The consistency query: no ledger transaction whose debits differ from its credits."""
    from app.core import db
    from app.payments.ledger import UNBALANCED_SQL

    assert await db.fetch(UNBALANCED_SQL) == []


async def offer(client, listing_id: str, who: dict, amount: str = "200000.00", **extra):
    body = {"amount": amount, "currency": "USD", **extra}
    return await client.post(f"/api/listings/{listing_id}/offers", json=body, headers=who["headers"])

"""`make run`'s demo data gives the demo accounts plans."""

from __future__ import annotations

from app.core import db


async def test_demo_accounts_get_plans(client):
    from app.cli.seed import seed
    from app.settings import load_settings

    await seed(listings=0, settings=load_settings())
    await seed(listings=0, settings=load_settings())  # twice: still one subscription each
    rows = await db.fetch(
        """SELECT u.email, s.plan, s.status FROM subscriptions s JOIN users u ON u.id = s.user_id
           WHERE u.email LIKE '%@atp.local' ORDER BY u.email"""
    )
    assert [(r["email"], r["plan"], r["status"]) for r in rows] == [
        ("broker@atp.local", "professional", "active"),
        ("buyer@atp.local", "basic", "active"),
        ("seller@atp.local", "enterprise", "active"),
    ]
    plans = (await client.get("/api/plans")).json()
    assert len(plans) == 3

"""Demo data: accounts of every kind and a realistic aircraft catalogue (never in production)."""

from __future__ import annotations

import os
import random
import time
import uuid

import asyncpg
import msgspec

from app.payments.plans import LIVE_LISTINGS
from app.settings import Settings

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    # email, type, verification level, company, first, last
    ("seller@atp.local", "seller", 2, "Blue Ridge Aviation LLC", "Sam", "Seller"),
    ("broker@atp.local", "broker", 2, "Meridian Jet Brokers", "Bea", "Broker"),
    ("buyer@atp.local", "buyer", 2, "Northwind Charter", "Ben", "Buyer"),
    ("newbuyer@atp.local", "buyer", 0, "", "Nia", "Newcomer"),
]
EXTRA_SELLERS = 24
# Listings of one seed that get photos and may be verified (app/cli/showcase.py), the newest first.
SHOWCASE_LIMIT = 500


class SeedSummary(msgspec.Struct):
    admin_email: str
    admin_password: str
    created_users: int
    created_listings: int
    total_listings: int
    showcase: str = ""  # photos and verifications made for the new listings (app/cli/showcase.py)
    seconds: float = 0.0

    def describe(self) -> str:
        text = (
            f"demo data: {self.created_users} users and {self.created_listings} listings created; "
            f"{self.total_listings} listings in total"
        )
        if self.showcase:
            text += f"; {self.showcase}"
        return f"{text} ({self.seconds:.1f}s)"


async def _ensure_user(conn, email, user_type, level, company, first, last, password, password_hash=None):
    from app.accounts.service import create_user

    existing = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", email)
    if existing:
        return existing, False
    row = await create_user(
        conn,
        email=email,
        password=password,
        user_type=user_type,
        company_name=company,
        first_name=first,
        last_name=last,
        verification_level=level,
        password_hash=password_hash,
    )
    return row["id"], True


async def seed(
    *, listings: int, settings: Settings, only_if_empty: int | None = None, showcase: bool = True
) -> SeedSummary:
    """Create the demo accounts if missing, then `listings` more listings.

    With `only_if_empty`, create that many listings only when there are none yet (first `make run`).
    With `showcase`, the newest of them get photos and some are verified (app/cli/showcase.py); bulk
    loads for benchmarks turn it off.
    """
    from app.auth.passwords import hash_password
    from app.cli import showcase as showcases
    from db.fixtures.catalogue import LISTING_COLUMNS, generate_listings
    from db.fixtures.listings import insert_listings

    if settings.is_production:
        raise SystemExit("demo data is never loaded in production")
    started = time.monotonic()
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    created = 0
    new_ids: list[uuid.UUID] = []
    try:
        async with conn.transaction():
            _, made = await _ensure_user(
                conn, "admin@atp.local", "admin", 3, "ATP", "Ada", "Admin", settings.demo_admin_password
            )
            created += made
            shared_hash = await hash_password(DEMO_PASSWORD)
            seller_ids = []
            for email, kind, level, company, first, last in DEMO_USERS:
                user_id, made = await _ensure_user(
                    conn, email, kind, level, company, first, last, DEMO_PASSWORD, shared_hash
                )
                created += made
                if kind in ("seller", "broker"):
                    seller_ids.append(user_id)
            for n in range(1, EXTRA_SELLERS + 1):
                kind = "broker" if n % 3 == 0 else "seller"
                user_id, made = await _ensure_user(
                    conn,
                    f"{kind}{n}@demo.atp.local",
                    kind,
                    1 + n % 2,
                    f"Demo Aviation {n}",
                    "Demo",
                    f"{kind.title()} {n}",
                    DEMO_PASSWORD,
                    shared_hash,
                )
                created += made
                seller_ids.append(user_id)
            existing = await conn.fetchval("SELECT count(*) FROM listings")
            count = listings
            if only_if_empty is not None:
                count = only_if_empty if existing == 0 else 0
        made_listings = 0
        if count > 0:
            records = list(
                generate_listings(count, seller_ids, seed=random.SystemRandom().randrange(1 << 30))
            )
            made_listings = await insert_listings(conn, records)
            # The newest are the ones search shows first; a bulk load (benchmarks) does not wait on photos.
            created_at = LISTING_COLUMNS.index("created_at")
            newest = sorted(records, key=lambda record: record[created_at], reverse=True)[:SHOWCASE_LIMIT]
            new_ids = [record[0] for record in newest] if showcase else []
        total = await conn.fetchval("SELECT count(*) FROM listings")
        await _seed_verification_data(conn)
        await _seed_plans(conn)
    finally:
        await conn.close()
    made = await showcases.showcase(settings, new_ids)
    return SeedSummary(
        "admin@atp.local",
        settings.demo_admin_password,
        created,
        made_listings,
        total,
        showcase=made.describe() if new_ids else "",
        seconds=time.monotonic() - started,
    )


def demo_banner(settings: Settings, summary: SeedSummary, port: int) -> str:
    password_source = "$ATP_DEMO_ADMIN_PASSWORD" if os.environ.get("ATP_DEMO_ADMIN_PASSWORD") else "default"
    lines = [
        "",
        "Demo accounts (development only):",
        f"  admin   {summary.admin_email:<22} {summary.admin_password}   ({password_source})",
        *(
            f"  {kind:<7} {email:<22} {DEMO_PASSWORD}   (verification level {level})"
            for email, kind, level, *_ in DEMO_USERS
        ),
        f"  {summary.total_listings} listings in the catalogue",
        f"  API docs: http://{settings.host}:{port}/schema",
        "",
    ]
    return "\n".join(lines)


async def create_user_command(
    email: str, password: str, user_type: str, level: int, *, plan: str | None = None
) -> uuid.UUID:
    from app.accounts.service import create_user
    from app.payments.subscriptions import grant

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        async with conn.transaction():
            row = await create_user(
                conn, email=email, password=password, user_type=user_type, verification_level=level
            )
            if plan is not None:
                await grant(conn, row["id"], plan)
    finally:
        await conn.close()
    return row["id"]


async def _seed_verification_data(conn: asyncpg.Connection) -> None:
    """The sample FAA registry and sanctions list (data/samples), loaded once, so checks have data to use."""
    from app.settings import PROJECT_ROOT
    from app.verification.datasets import generation
    from app.verification.registry import import_registry
    from app.verification.sanctions import import_sanctions

    samples = PROJECT_ROOT / "data" / "samples"
    if await generation(conn, "faa") == 0 and (samples / "faa").is_dir():
        await import_registry(conn, samples / "faa")
    if await generation(conn, "sanctions") == 0 and (samples / "ofac").is_dir():
        await import_sanctions(conn, samples / "ofac")


# Demo accounts on a paid plan, so that `make run` shows plans, limits and commission rates.
DEMO_PLANS = {
    "seller@atp.local": "enterprise",
    "broker@atp.local": "professional",
    "buyer@atp.local": "basic",
}


async def _seed_plans(conn: asyncpg.Connection) -> None:
    """Give the demo accounts their plans, and every other demo seller or broker the smallest plan that
    holds the catalogue listings they were given (without one they would be over basic's limit)."""
    from app.payments.subscriptions import grant

    for email, plan in DEMO_PLANS.items():
        user_id = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
        if user_id is not None:
            await grant(conn, user_id, plan)
    sellers = await conn.fetch(
        """SELECT u.id, (SELECT p.id FROM plans p WHERE p.active_listings >= count(l.id)
                         ORDER BY p.position LIMIT 1) AS plan
           FROM users u LEFT JOIN listings l ON l.seller = u.id AND l.status = ANY($1::text[])
           WHERE u.email LIKE '%@demo.atp.local' GROUP BY u.id""",
        list(LIVE_LISTINGS),
    )
    for seller in sellers:
        await grant(conn, seller["id"], seller["plan"] or "enterprise")

"""A worker killed with SIGKILL while it expires offers: no offer is left half-expired.

Expiry is one transaction per batch (status, history step and the `offer.expired` outbox rows together),
so after the kill every offer is either untouched or fully expired, and the next worker finishes the rest.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from tests.chaos.conftest import listing_body

OFFERS = 3000


async def test_offers_expire_all_or_nothing_across_a_worker_kill(stack, seller):
    async with httpx.AsyncClient(base_url=stack.urls[0], timeout=10) as client:
        created = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
        assert created.status_code == 201, created.text
        listing_id = created.json()["id"]
    conn = await asyncpg.connect(stack.pg.url)
    try:
        buyer = await conn.fetchval(
            """INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, phone, status,
                   user_type, verification_level, totp_enabled, totp_last_step, created_at, updated_at)
               VALUES (gen_random_uuid(), 'buyer-expiry@chaos.test', 'x', '', '', '', '', 'active', 'buyer', 2,
                   false, 0, now(), now()) RETURNING id"""
        )
        seller_id = await conn.fetchval("SELECT seller FROM listings WHERE id = $1::uuid", listing_id)
        # Due a moment from now, so the kill lands while the sweep is working through the batches.
        await conn.execute(
            """INSERT INTO offers (listing, buyer, seller, amount, currency, status, turn, history, expires_at,
                                   created_at)
               SELECT $1::uuid, $2, $3, 1000 + g, 'USD', 'open', 'seller',
                      jsonb_build_array(jsonb_build_object('by', 'buyer', 'action', 'offered')),
                      now() + interval '2 seconds', now() - interval '1 hour'
               FROM generate_series(1, $4) g""",
            listing_id,
            buyer,
            seller_id,
            OFFERS,
        )
        killed_midway = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT count(*) FROM offers WHERE listing = $1::uuid AND status = 'expired'", listing_id
            )
            if 0 < done < OFFERS:
                stack.worker.kill()
                killed_midway = True
                break
            if done == OFFERS:
                break
            await asyncio.sleep(0.02)
        stack.restart_worker()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            left = await conn.fetchval(
                "SELECT count(*) FROM offers WHERE listing = $1::uuid AND status <> 'expired'", listing_id
            )
            if left == 0:
                break
            await asyncio.sleep(0.2)
        assert left == 0, "the next worker did not finish expiring"
        # Half-expired would be: status without its history step, or either without its event.
        rows = await conn.fetch(
            """SELECT o.id,
                      (SELECT count(*) FROM jsonb_array_elements(o.history) s WHERE s->>'action' = 'expired') AS steps,
                      (SELECT count(*) FROM outbox_events e WHERE e.event_type = 'offer.expired'
                          AND e.channel = 'user:' || o.buyer::text AND e.payload->>'offerId' = o.id::text) AS events
               FROM offers o WHERE o.listing = $1::uuid""",
            listing_id,
        )
        assert {(r["steps"], r["events"]) for r in rows} == {(1, 1)}
        print(f"killed mid-expiry: {killed_midway}")
    finally:
        await conn.close()

"""Expiry through a real arq worker process: a due hold ends within 5 s of its expiresAt."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from app.core import db
from tests.processes import running_worker
from tests.reservations.conftest import active_holds

ARQ = Path(sys.executable).parent / "arq"


@pytest.fixture
def worker(tmp_path):
    log = tmp_path / "arq.log"
    with running_worker("main", log) as proc:
        yield proc, log


async def test_worker_expires_hold_within_5_seconds_and_frees_the_listing(client, people, listing, worker):
    buyer = await people.create()
    await _hold_expires_on_time(client, listing, buyer, worker)
    assert await active_holds(listing["id"]) == []
    status = await db.fetchrow("SELECT status FROM listings WHERE id = $1", uuid.UUID(listing["id"]))
    assert status["status"] == "active"


async def _hold_expires_on_time(client, listing: dict, buyer: dict, worker) -> None:
    """A hold due in 3 s ends within 5 s of its expiresAt, by the worker alone (its cron sweep):
    nobody reads the listing meanwhile."""
    proc, log = worker
    response = await client.post(f"/api/listings/{listing['id']}/holds", json={}, headers=buyer["headers"])
    assert response.status_code == 201, response.text
    hold_id = uuid.UUID(response.json()["id"])
    await db.fetch(
        "UPDATE listing_holds SET placed_at = now() - interval '1 hour', expires_at = now() + interval '3 seconds'"
        " WHERE id = $1",
        hold_id,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = await db.fetchrow(
            "SELECT status, expires_at, ended_at FROM listing_holds WHERE id = $1", hold_id
        )
        if row["status"] != "active":
            break
        assert proc.poll() is None, log.read_text()[-3000:]
        await asyncio.sleep(0.2)
    assert row["status"] == "expired", log.read_text()[-3000:]
    lag = (row["ended_at"] - row["expires_at"]).total_seconds()
    assert 0 <= lag < 5, lag


async def test_worker_killed_mid_expiry_leaves_holds_and_listings_consistent(client, people, seller, worker):
    from tests.reservations.conftest import listing_body

    proc, log = worker
    buyers = await people.many(30)
    holds = []
    for buyer in buyers:
        listing = (await client.post("/api/listings", json=listing_body(), headers=seller["headers"])).json()
        response = await client.post(
            f"/api/listings/{listing['id']}/holds", json={}, headers=buyer["headers"]
        )
        holds.append(uuid.UUID(response.json()["id"]))
    await db.fetch(
        "UPDATE listing_holds SET placed_at = now() - interval '1 hour', expires_at = now() WHERE id = ANY($1)",
        holds,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await db.fetchrow("SELECT 1 FROM listing_holds WHERE id = ANY($1) AND status = 'expired'", holds):
            break
        await asyncio.sleep(0.01)
    proc.kill()  # SIGKILL: no chance to finish or clean up
    proc.wait()
    rows = await db.fetch(
        """SELECT h.id, h.status, l.status AS listing_status,
                  (SELECT count(*) FROM outbox_events o WHERE o.event_type = 'hold.expired'
                     AND o.channel = 'listing:' || h.listing::text AND o.payload->>'holdId' = h.id::text) AS events
           FROM listing_holds h JOIN listings l ON l.id = h.listing WHERE h.id = ANY($1)""",
        holds,
    )
    for row in rows:
        if row["status"] == "expired":
            assert (row["listing_status"], row["events"]) == ("active", 1), dict(row)
        else:
            assert (row["status"], row["listing_status"], row["events"]) == ("active", "on_hold", 0), dict(
                row
            )
    assert any(row["status"] == "expired" for row in rows), log.read_text()[-3000:]


async def test_a_backlog_of_slow_jobs_does_not_delay_a_hold_expiry(client, people, listing, worker):
    """Report builds wait on the slow queue, whose worker is stopped; the main worker expires on time."""
    from redis.asyncio import Redis

    from app.core import queues
    from app.reports import jobs

    buyer = await people.create()
    owner = uuid.UUID(buyer["id"])
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        for _ in range(60):
            row = await db.fetchrow(
                "INSERT INTO reports (owner_id, kind, filters) VALUES ($1, 'market', '{}') RETURNING id",
                owner,
            )
            await jobs.enqueue_build(redis, row["id"], 0)
        assert await redis.zcard(queues.SLOW) >= 60
        await _hold_expires_on_time(client, listing, buyer, worker)
        # The builds are still waiting for the slow queue's worker: the main one never took them.
        assert await redis.zcard(queues.SLOW) >= 60
        waiting = await db.fetchrow(
            "SELECT count(*) AS n FROM reports WHERE owner_id = $1 AND status = 'queued'", owner
        )
        assert waiting["n"] == 60
    finally:
        await db.fetch("DELETE FROM reports WHERE owner_id = $1", owner)
        await redis.delete(queues.SLOW)
        await redis.aclose()

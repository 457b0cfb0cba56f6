"""Saved searches over HTTP, and their alerts end to end through a real arq worker."""

from __future__ import annotations

import os
import uuid

import pytest

SAVED = {"name": "PC-12 in Iceland under 5m", "query": {"q": "pc12", "country": "IS", "priceMax": "5000000"}}


@pytest.fixture(scope="module")
async def buyer(accounts):
    return await accounts.create("buyer", level=0)


@pytest.fixture(scope="module")
async def seller(accounts):
    return await accounts.create("seller", level=1)


async def run_job(name: str, **kwargs) -> object:
    """Enqueue `name` on a private queue and let a burst-mode arq worker run it."""
    from arq import create_pool
    from arq.worker import Worker, func

    from workers import search
    from workers.main import _deserialize, _serialize, redis_settings

    queue = f"atp-test-search-{uuid.uuid4().hex[:8]}"
    settings = redis_settings()
    pool = await create_pool(settings, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        job = await pool.enqueue_job(name, _queue_name=queue, **kwargs)
        worker = Worker(
            functions=[func(getattr(search, name), name=name)],
            redis_settings=settings,
            queue_name=queue,
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
            job_serializer=_serialize,
            job_deserializer=_deserialize,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        return await job.result(timeout=10)
    finally:
        await pool.aclose()


async def notifications(user_id: str) -> list:
    from app.core import db

    return await db.fetch(
        "SELECT kind, title, data FROM notifications WHERE user_id = $1 ORDER BY created_at",
        uuid.UUID(user_id),
    )


async def notification_events(user_id: str) -> list:
    from app.core import db

    return await db.fetch(
        "SELECT event_type, payload FROM outbox_events WHERE channel = $1 ORDER BY position",
        f"user:{user_id}",
    )


async def list_aircraft(client, seller, price: str, tail: str) -> dict:
    body = {
        "manufacturer": "Pilatus",
        "model": "PC-12 NGX",
        "yearManufactured": 2022,
        "tailNumber": tail,
        "hoursTotal": 300,
        "price": price,
        "currency": "USD",
        "locationCountry": "IS",
        "locationCity": "Reykjavik",
        "specifications": {"engineType": "turboprop", "maxPassengers": 9},
    }
    response = await client.post("/api/listings", json=body, headers=seller["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def test_crud(client, buyer, accounts):
    created = await client.post("/api/saved-searches", json=SAVED, headers=buyer["headers"])
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["query"]["priceMax"] == "5000000" and saved["name"] == SAVED["name"]
    mine = (await client.get("/api/saved-searches", headers=buyer["headers"])).json()
    assert saved["id"] in [s["id"] for s in mine]
    other = await accounts.create("buyer", level=0)
    assert (
        await client.delete(f"/api/saved-searches/{saved['id']}", headers=other["headers"])
    ).status_code == 404
    assert (
        await client.delete(f"/api/saved-searches/{saved['id']}", headers=buyer["headers"])
    ).status_code == 204
    assert (await client.get("/api/saved-searches", headers=buyer["headers"])).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "query": {}},
        {"name": "x", "query": {"priceMax": "cheap"}},
        {"name": "x", "query": {"colour": "red"}},
        {"name": "x", "query": {"engineType": "steam"}},
    ],
)
async def test_bad_saved_search_is_422(client, buyer, body):
    response = await client.post("/api/saved-searches", json=body, headers=buyer["headers"])
    assert response.status_code == 422, response.text


async def test_anonymous_cannot_save(client):
    assert (await client.post("/api/saved-searches", json=SAVED)).status_code == 401


async def test_alerts_through_a_worker(client, buyer, seller):
    # Start from a clean position: earlier tests' listing events are not this buyer's business.
    await run_job("evaluate_saved_searches")
    response = await client.post("/api/saved-searches", json=SAVED, headers=buyer["headers"])
    assert response.status_code == 201

    tail = f"TF{uuid.uuid4().hex[:4].upper()}"
    listing = await list_aircraft(client, seller, "4500000.00", tail)
    await list_aircraft(client, seller, "6500000.00", f"TF{uuid.uuid4().hex[:4].upper()}")  # too dear
    await run_job("evaluate_saved_searches")
    got = await notifications(buyer["id"])
    assert [n["kind"] for n in got] == ["saved_search.new_match"]
    events = await notification_events(buyer["id"])
    assert [e["event_type"] for e in events] == ["notification.created"]

    async def reprice(price: str) -> None:
        response = await client.patch(
            f"/api/listings/{listing['id']}", json={"price": price}, headers=seller["headers"]
        )
        assert response.status_code == 200, response.text

    await reprice("4200000.00")
    await run_job("evaluate_saved_searches")
    await reprice("4300000.00")  # up again: still above what the buyer was told, no alert
    await run_job("evaluate_saved_searches")
    await run_job("evaluate_saved_searches")  # nothing new: no duplicate
    got = await notifications(buyer["id"])
    assert [n["kind"] for n in got] == ["saved_search.new_match", "saved_search.price_drop"]
    assert len(await notification_events(buyer["id"])) == 2


@pytest.mark.skipif(bool(os.environ.get("MEILI_URL")), reason="MEILI_URL is set: the job indexes")
async def test_index_job_is_a_noop_on_postgres():
    assert await run_job("index_listing_events") == {"indexed": 0}


async def test_reindex_on_postgres_rebuilds_concurrently(database_url):
    from app.search.service import reindex

    assert (await reindex(database_url, env={})).startswith("postgres: rebuilt")

"""Fixtures for messaging: users with tokens signed directly, a listing, a thread between two people.

No app imports at module level: this conftest loads before the root one has started PostgreSQL.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.people import assert_problem, listing_body  # noqa: F401


@pytest.fixture
async def seller(people):
    return await people.create("seller", level=1)


@pytest.fixture
async def buyer(people):
    return await people.create("buyer", level=1)


@pytest.fixture(scope="session")
async def admin(people):
    return await people.create("admin", level=3)


@pytest.fixture
async def listing(client, seller) -> dict:
    response = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def thread(client, buyer, listing) -> dict:
    response = await client.post(
        "/api/threads",
        json={"listingId": listing["id"], "body": "Is it still available?"},
        headers=buyer["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()


@contextlib.contextmanager
def rate_limit(app, per_minute: int):
    """Run with another per-user send budget (the app reads it from its settings on every request)."""
    import msgspec

    before = app.state.settings
    app.state.settings = msgspec.structs.replace(before, message_rate_per_min=per_minute)
    try:
        yield
    finally:
        app.state.settings = before

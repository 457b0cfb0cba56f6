"""Fixtures for analytics: people with tokens (no app imports at module level)."""

from __future__ import annotations

import pytest

from tests.reservations.conftest import People


@pytest.fixture(scope="session")
async def people(app, client) -> People:
    return People(app)


@pytest.fixture(scope="session")
async def admin(people):
    return await people.create("admin", level=3)

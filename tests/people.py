"""People for tests: many users fast (one shared password hash, tokens signed by the app), the shared
seller / admin / listing fixtures, and tail numbers that never repeat in a session.

Conftests import what they use from here. No app imports at module level: this loads before the root
conftest has started PostgreSQL.
"""

from __future__ import annotations

import random
import string
import uuid

import pytest

_TAILS_GIVEN: set[str] = set()


def tail() -> str:
    """A tail number not given before in this session (a repeat of a live one is 409 tail_number_taken)."""
    while True:
        # N + 4 digits + "T" + a letter: a space of its own (seeded catalogues use N + digits + one letter).
        candidate = (
            "N" + "".join(random.choices(string.digits, k=4)) + "T" + random.choice(string.ascii_uppercase)
        )
        if candidate not in _TAILS_GIVEN:
            _TAILS_GIVEN.add(candidate)
            return candidate


def listing_body() -> dict:
    return {
        "manufacturer": "Piper",
        "model": "PA-28 Archer",
        "yearManufactured": 2008,
        "tailNumber": tail(),
        "hoursTotal": 3100,
        "price": "219000.00",
        "currency": "USD",
        "locationCountry": "US",
        "locationCity": "Vero Beach",
    }


class People:
    """Users inserted straight into the database with a token signed by the app (no login round-trips)."""

    def __init__(self, app) -> None:
        self.app = app
        self._hash: str | None = None

    async def create(self, user_type: str = "buyer", level: int = 2, *, plan: str | None = None) -> dict:
        return (await self.many(1, user_type, level, plan=plan))[0]

    async def many(
        self, count: int, user_type: str = "buyer", level: int = 2, *, plan: str | None = None
    ) -> list[dict]:
        """`count` users; with `plan`, each on that plan for a month (`subscriptions.grant`): a seller who
        lists more than basic's few aircraft needs one, as every account is held to its plan's limits."""
        from app.accounts.service import create_user
        from app.auth.passwords import hash_password
        from app.auth.rbac import roles_and_permissions
        from app.core.db import UnitOfWork
        from app.payments.subscriptions import grant

        if self._hash is None:
            self._hash = await hash_password("correct-horse-battery")
        people = []
        async with UnitOfWork() as uow:
            for _ in range(count):
                email = f"{user_type}-{uuid.uuid4().hex[:12]}@test.atp"
                row = await create_user(
                    uow.conn,
                    email=email,
                    password="x",
                    user_type=user_type,
                    verification_level=level,
                    password_hash=self._hash,
                )
                roles, permissions = await roles_and_permissions(uow.conn, row["id"])
                token, _ = self.app.state.signer.issue(
                    user_id=row["id"],
                    email=email,
                    roles=roles,
                    permissions=permissions,
                    verification_level=level,
                    family_id=None,
                )
                if plan is not None:
                    await grant(uow.conn, row["id"], plan)
                people.append({"id": str(row["id"]), "headers": {"Authorization": f"Bearer {token}"}})
        return people


@pytest.fixture(scope="session")
async def people(app, client) -> People:
    return People(app)


@pytest.fixture(scope="session")
async def seller(people):
    """One seller for the whole session, listing in every test that asks for a `listing`: on enterprise."""
    return await people.create("seller", level=1, plan="enterprise")


@pytest.fixture(scope="session")
async def admin(people):
    return await people.create("admin", level=3)


@pytest.fixture
async def listing(client, seller) -> dict:
    response = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body

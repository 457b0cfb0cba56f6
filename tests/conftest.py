"""Test session: real PostgreSQL and Redis (embedded unless ATP_TEST_DATABASE_URL / ATP_TEST_REDIS_URL).

Services start in `pytest_configure`, before any test module imports the app, because the Piccolo
engine reads DATABASE_URL when `db.piccolo_conf` is first imported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

# The people, seller, admin and listing fixtures every suite shares (tests/people.py).
pytest_plugins = ["tests.people"]

_state: dict = {}


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _state:
        return
    from app.cli import services

    tmp = Path(tempfile.mkdtemp(prefix="atp-test-"))
    _state["tmp"] = tmp
    db_url = os.environ.get("ATP_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("ATP_TEST_REDIS_URL", "")
    if not db_url or not redis_url:
        started = services.start(
            tmp, database_name="atp_test", record=False, postgres=not db_url, redis=not redis_url
        )
        _state["services"] = started
        db_url = db_url or started.database_url
        redis_url = redis_url or started.redis_url
    os.environ.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        PICCOLO_CONF="db.piccolo_conf",
        ATP_DATA_DIR=str(tmp / "data"),
        ATP_ENV="test",
    )
    from app.cli import migrate

    asyncio.run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    started = _state.pop("services", None)
    if started is not None:
        started.stop()
    tmp = _state.pop("tmp", None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture(scope="session")
def app():
    from app.main import create_app
    from app.settings import load_settings

    return create_app(load_settings())


@pytest.fixture(scope="session")
async def client(app):
    """An HTTP client on the test's own event loop (Litestar's AsyncTestClient runs the app in another
    loop, which would strand the asyncpg pool there and break direct database use from tests)."""
    import httpx

    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # The lifespan's task group must be entered and exited by one task.
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan_task = asyncio.create_task(run_lifespan())
    await asyncio.wait(
        [asyncio.ensure_future(started.wait()), lifespan_task], return_when=asyncio.FIRST_COMPLETED
    )
    if lifespan_task.done():
        lifespan_task.result()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client
    stop.set()
    await lifespan_task


class Accounts:
    """Creates users straight in the database (any type and level) and logs them in over HTTP."""

    PASSWORD = "correct-horse-battery"

    def __init__(self, client) -> None:
        self.client = client
        self._hash: str | None = None

    async def create(
        self,
        user_type: str = "buyer",
        level: int = 0,
        *,
        password: str | None = None,
        plan: str | None = None,
    ) -> dict:
        """A user logged in; with `plan`, on that plan for a month (sellers listing more than basic allows)."""
        from app.accounts.service import create_user
        from app.auth.passwords import hash_password
        from app.core.db import UnitOfWork
        from app.payments.subscriptions import grant

        if password is None and self._hash is None:
            self._hash = await hash_password(self.PASSWORD)
        email = f"{user_type}-{uuid.uuid4().hex[:12]}@test.atp"
        async with UnitOfWork() as uow:
            row = await create_user(
                uow.conn,
                email=email,
                password=password or self.PASSWORD,
                user_type=user_type,
                company_name="Test Co",
                verification_level=level,
                password_hash=None if password else self._hash,
            )
            if plan is not None:
                await grant(uow.conn, row["id"], plan)
        response = await self.client.post(
            "/api/auth/login", json={"email": email, "password": password or self.PASSWORD}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return {
            "id": str(row["id"]),
            "email": email,
            "password": password or self.PASSWORD,
            "access": body["accessToken"],
            "refresh": body["refreshToken"],
            "headers": {"Authorization": f"Bearer {body['accessToken']}"},
        }


@pytest.fixture(scope="session")
def accounts(client) -> Accounts:
    return Accounts(client)


@pytest.fixture
async def relay(app, client):
    """The in-process app's outbox relay, for tests that need live events: the browser and realtime packages
    switch it off for the whole session (ATP_RT_RELAY=0 at collection), their own servers relay instead."""
    realtime = app.state.realtime
    if realtime.config.run_relay:
        yield
        return
    realtime.relay.start()
    try:
        yield
    finally:
        await realtime.relay.stop()


async def relay_caught_up(limit_s: float = 120) -> None:
    """Earlier tests can leave thousands of events for the relay; let it drain them first."""
    from app.core import db

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while await db.fetchrow("SELECT 1 FROM outbox_events WHERE published_at IS NULL LIMIT 1"):
        assert loop.time() < deadline, "the outbox relay did not catch up"
        await asyncio.sleep(0.05)

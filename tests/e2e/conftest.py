"""Browser end-to-end tests: headless Debian chromium driven by Playwright against a live platform.

Playwright's async API runs on the session's event loop: the in-process app other packages started keeps
serving its sockets meanwhile (a long-blocked loop leaves its Redis subscription unread).

One uvicorn (with the outbox relay) and one arq worker run against the session's PostgreSQL and Redis
(tests/conftest.py). Users are created straight in the database; everything else goes through the
browser or the public HTTP API. Skipped, with the reason, only when no chromium can be found.

ATP_SCREENSHOTS=1 writes screenshots of each main screen to docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app.cli.services import free_port

# The in-process app of other test packages must not hold the relay lock: the live server relays.
os.environ.setdefault("ATP_RT_RELAY", "0")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "e2e-correct-horse-42"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Small waits: the browser reacts to pushed events, so a failure shows within these bounds.
LIVE_TIMEOUT_MS = 8000


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("ATP_CHROMIUM"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class LiveServer:
    """uvicorn (web + relay) and the arq workers of both queues, as `make run` starts them."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.work = work
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "ATP_RT_RELAY": "1",
            "ATP_RT_RELAY_LOCK_RETRY_S": "0.2",
            "ATP_RT_RELAY_POLL_S": "1",
            "PYTHONPATH": str(ROOT),
            # The sandbox payment provider posts its signed events back to this server.
            "ATP_SANDBOX_WEBHOOK_URL": f"{self.url}/api/payments/webhooks/stripe",
        }

    def _spawn(self, name: str, command: list[str]) -> None:
        with open(self.work / f"{name}.log", "wb") as log:
            self.procs.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            )

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        self._spawn(
            "uvicorn",
            [
                str(bin_dir / "uvicorn"),
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "2",
            ],
        )
        from tests.processes import clear_abandoned_jobs, worker_command

        clear_abandoned_jobs(self.env["REDIS_URL"])
        self._spawn("worker", worker_command("main"))
        self._spawn("worker-slow", worker_command("slow"))
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"live server did not start:\n{self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in self.work.glob("*.log")
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no chromium found (apt-get install -y chromium, or set ATP_CHROMIUM): browser tests skipped"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    return path


@pytest.fixture(scope="package")
def live(tmp_path_factory) -> LiveServer:
    server = LiveServer(tmp_path_factory.mktemp("e2e-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
async def browser(chromium_path, live, tmp_path_factory):
    from playwright.async_api import async_playwright

    work = tmp_path_factory.mktemp("chromium")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, "TMPDIR": str(work), "HOME": str(work)},
        )
        yield launched
        await launched.close()


class People:
    """Users made straight in the database, logged in over HTTP; contexts logged in through the cookie."""

    def __init__(self, live: LiveServer, browser) -> None:
        self.live = live
        self.browser = browser
        self.contexts: list = []

    async def create(self, user_type: str, level: int = 0, *, plan: str | None = None) -> dict:
        """With `plan`, on that plan for a month: a seller listing more than basic's few aircraft needs one."""
        import asyncpg

        from app.accounts.service import create_user
        from app.payments.subscriptions import grant

        email = f"e2e-{user_type}-{uuid.uuid4().hex[:10]}@test.atp"
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            async with conn.transaction():
                row = await create_user(
                    conn,
                    email=email,
                    password=PASSWORD,
                    user_type=user_type,
                    company_name="E2E Co",
                    first_name=user_type.title(),
                    verification_level=level,
                )
                if plan is not None:
                    await grant(conn, row["id"], plan)
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=self.live.url) as client:
            response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["accessToken"]
        return {
            "id": str(row["id"]),
            "email": email,
            "password": PASSWORD,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    async def context(self, user: dict | None = None, **options):
        """A fresh browser profile; with `user`, holding that user's refresh cookie (as after logging in)."""
        context = await self.browser.new_context(base_url=self.live.url, **options)
        context.set_default_timeout(LIVE_TIMEOUT_MS)
        self.contexts.append(context)
        if user is not None:
            response = await context.request.post(
                "/api/auth/login",
                data={"email": user["email"], "password": user["password"]},
                headers={"X-ATP-Client": "web"},
            )
            assert response.status == 200, await response.text()
        return context

    async def page(self, user: dict | None = None, **options):
        return await (await self.context(user, **options)).new_page()

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        self.contexts.clear()


@pytest.fixture
async def people(live, browser):
    made = People(live, browser)
    yield made
    await made.close()


@pytest.fixture(scope="package")
async def api(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        yield client


async def make_listing(api: httpx.AsyncClient, seller: dict, **fields) -> dict:
    body = {
        "manufacturer": "Cessna",
        "model": "172 Skyhawk",
        "yearManufactured": 2018,
        "tailNumber": f"N{uuid.uuid4().hex[:5].upper()}",
        "hoursTotal": 1200,
        "price": "389000.00",
        "currency": "USD",
        "locationCountry": "US",
        "locationCity": "Wichita",
        "description": "One owner, hangared, fresh annual.",
        "specifications": {"engineType": "piston", "maxPassengers": 4, "avionics": ["Garmin G1000 NXi"]},
        **fields,
    }
    response = await api.post("/api/listings", json=body, headers=seller["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def wait_ready(page) -> None:
    """The app booted: session restored, first view rendered."""
    await page.wait_for_selector("html[data-ready='1']")


async def subscribed(page, channel: str) -> None:
    """The page's socket is subscribed to `channel` (the server answered `subscribed`)."""
    # A function, not an expression string: CSP (no 'unsafe-eval') forbids evaluating strings in the page.
    await page.wait_for_function("(channel) => window.atp.realtime.lastSeq(channel) !== null", arg=channel)


async def screenshot(page, name: str) -> None:
    if os.environ.get("ATP_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

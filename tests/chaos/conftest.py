"""The platform as operators run it, in real processes a test can break: two web processes and a worker
on a PostgreSQL cluster and a Redis server of this module's own, which the tests stop and start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from app.cli.services import free_port
from tests.processes import PostgresProcess, RedisProcess

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "chaos-pass-2026"
UVICORN = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1"]
UVICORN += ["--log-level", "warning"]


class Proc:
    """A Python child (uvicorn or the worker) with its log in the stack's folder."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            self.proc.wait(5)  # type: ignore[union-attr]

    def stop(self) -> None:
        if not self.alive:
            return
        self.proc.terminate()  # type: ignore[union-attr]
        try:
            self.proc.wait(10)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


class Stack:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="atp-chaos-"))
        self.pg = PostgresProcess()
        self.redis = RedisProcess()
        self.webs: list[Proc] = []
        self.worker: Proc | None = None
        self.env: dict[str, str] = {}

    @property
    def urls(self) -> list[str]:
        return [w.env["ATP_TEST_URL"] for w in self.webs]

    async def start(self) -> None:
        await asyncio.to_thread(self.pg.create)
        await self.redis.start()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "ATP_DATA_DIR": str(self.dir / "data"),
            "ATP_ENV": "test",
            "PICCOLO_CONF": "db.piccolo_conf",
            "ATP_RT_RELAY": "1",
            "ATP_RT_RELAY_LOCK_RETRY_S": "0.2",
            "ATP_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "ATP_WEBHOOK_TIMEOUT_S": "1",
            "ATP_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1,1",
            "ATP_JOB_LEASE_S": "3",
            "ATP_LOG_LEVEL": "WARNING",
        }
        self.env.pop("ATP_TEST_URL", None)
        cli = [sys.executable, "-c", "from app.cli import main; main()"]
        create = ["user", "create", "--email", "seller@chaos.test", "--password", PASSWORD]
        await asyncio.to_thread(
            subprocess.run,
            [*cli, *create, "--type", "seller", "--level", "2", "--plan", "enterprise"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        for i in range(2):  # one after the other: the first writes the dev signing key both use
            port = free_port()
            web = Proc(
                f"web{i}",
                [*UVICORN, "--port", str(port)],
                {**self.env, "ATP_TEST_URL": f"http://127.0.0.1:{port}"},
                self.dir,
            )
            web.spawn()
            self.webs.append(web)
            await self.wait_ready(web)
        self.worker = Proc("worker", [sys.executable, "-m", "workers"], self.env, self.dir)
        self.worker.spawn()

    async def wait_ready(self, web: Proc, within: float = 30) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert web.alive, web.log_tail()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(web.env["ATP_TEST_URL"] + "/ready", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{web.name} not ready: {web.log_tail()}")

    def restart_worker(self) -> None:
        self.worker = Proc("worker", [sys.executable, "-m", "workers"], self.env, self.dir)
        self.worker.spawn()

    def stop(self) -> None:
        for proc in [*self.webs, self.worker]:
            if proc is not None:
                proc.stop()
        self.redis.remove()
        self.pg.remove()


@pytest.fixture(scope="package")
async def stack():
    stack = Stack()
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
async def seller(stack) -> dict:
    async with httpx.AsyncClient(base_url=stack.urls[0]) as client:
        answer = await client.post(
            "/api/auth/login", json={"email": "seller@chaos.test", "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["accessToken"]
    return {"headers": {"Authorization": f"Bearer {token}"}}


async def listing_with_webhook(stack: Stack, seller: dict, receiver_url: str) -> str:
    """A new active listing of the seller's, whose price changes reach `receiver_url` by webhook."""
    async with httpx.AsyncClient(base_url=stack.urls[0], timeout=10) as client:
        created = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
        assert created.status_code == 201, created.text
        listing_id = created.json()["id"]
        endpoint = await client.post(
            "/api/webhooks/endpoints",
            json={"url": f"{receiver_url}/{listing_id}", "eventTypes": ["listing.price_changed"]},
            headers=seller["headers"],
        )
        assert endpoint.status_code == 201, endpoint.text
    return listing_id


def listing_body() -> dict:
    return {
        "manufacturer": "Pilatus",
        "model": "PC-12 NGX",
        "yearManufactured": 2021,
        "tailNumber": "N" + str(random.randint(1, 9)) + "".join(random.choices(string.digits, k=3)) + "CX",
        "hoursTotal": 640,
        "price": "5200000.00",
        "currency": "USD",
        "locationCountry": "US",
        "locationCity": "Denver",
        "description": "Single owner, factory warranty.",
    }

"""Realtime tests run real uvicorn processes against the session's PostgreSQL (tests/conftest.py).

The relay must live in processes a test can kill, so the in-process app of the other tests runs
without one (ATP_RT_RELAY=0 is read when its lifespan starts, after collection set it here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from app.cli.services import free_port

os.environ.setdefault("ATP_RT_RELAY", "0")

ROOT = Path(__file__).resolve().parents[2]

# Small limits so that each behaviour shows within a second or two.
TEST_SERVER_ENV = {
    "ATP_RT_RELAY": "1",
    "ATP_RT_RELAY_LOCK_RETRY_S": "0.2",
    "ATP_RT_RELAY_POLL_S": "1",
    "ATP_RT_SESSION_CHECK_S": "1",
    "ATP_RT_SEND_BUFFER_MAX": str(1024 * 1024),
    "ATP_RT_LAG_CLOSE_S": "1",
    "ATP_RT_SOCKET_SNDBUF": str(16 * 1024),
    "ATP_RT_MAX_CONNECTIONS_PER_USER": "3",
    "ATP_RT_TICKET_TTL_S": "2",
    "ATP_RT_HISTORY_SIZE": "10",
    "ATP_WS_ALLOWED_ORIGINS": "https://app.atp.test",
}


class Server:
    """One uvicorn web process running tests/realtime/rtapp.py."""

    def __init__(self, name: str, env: dict[str, str], ws_max_size: int | None = 65536) -> None:
        self.name = name
        self.ws_max_size = ws_max_size  # None: uvicorn's own default (16 MiB), our gateway caps instead
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        logs = os.environ.get("ATP_RT_TEST_LOGS") or Path(os.environ["ATP_DATA_DIR"]).parent
        self.log_path = Path(logs) / f"uvicorn-{name}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self._env = {**os.environ, **TEST_SERVER_ENV, **env, "PYTHONPATH": str(ROOT)}

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "tests.realtime.rtapp:create_rt_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *(["--ws-max-size", str(self.ws_max_size)] if self.ws_max_size else []),
                    "--ws-per-message-deflate",
                    "false",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, within: float = 20) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.http + "/metrics", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} did not start: {self.log_path.read_text()[-3000:]}")

    async def metric(self, name: str) -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(self.http + "/metrics", timeout=2)).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def is_leader(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return await self.metric("atp_realtime_relay_leader") == 1.0
        return False

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


async def start_servers(
    count: int, env: dict[str, str] | None = None, ws_max_size: int | None = 65536
) -> list[Server]:
    servers = [Server(f"web{i}", env or {}, ws_max_size) for i in range(count)]
    for server in servers:
        server.spawn()
    await asyncio.gather(*(s.wait_ready() for s in servers))
    return servers


async def leader_of(servers: list[Server], within: float = 10) -> Server:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for server in servers:
            if await server.is_leader():
                return server
        await asyncio.sleep(0.1)
    raise TimeoutError("no relay leader among the test servers")


class Tokens:
    """Mints access tokens with the key the servers load from ATP_DATA_DIR."""

    def __init__(self) -> None:
        from app.auth.tokens import TokenSigner, load_or_create_key
        from app.settings import load_settings

        settings = load_settings()
        key = load_or_create_key("", settings.data_dir, allow_generate=True)
        self._signer = TokenSigner(key, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=900)

    def issue(self, user_id: uuid.UUID, roles: list[str] | None = None) -> str:
        token, _ = self._signer.issue(
            user_id=user_id,
            email=f"{user_id.hex[:8]}@rt.test",
            roles=roles or ["buyer"],
            permissions=[],
            verification_level=0,
            family_id=None,
        )
        return token

    def jti(self, token: str) -> str:
        return self._signer.decode(token).jti


async def ticket_for(server: Server, token: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            server.http + "/api/realtime/ticket", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert 0 < body["expiresIn"] <= 60
    return body["ticket"]


class Client:
    """A WebSocket client that records every frame it receives."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict] = asyncio.Queue()
        self.received: list[dict] = []
        self.arrived_at: dict[int, float] = {}  # id(frame) -> when it was read off the socket
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, **kwargs) -> Client:
        ws = await websockets.connect(url, compression=None, open_timeout=5, close_timeout=1, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self.ws:
                frame = json.loads(message)
                self.arrived_at[id(frame)] = time.time()
                self.received.append(frame)
                self.frames.put_nowait(frame)

    async def send(self, **op) -> None:
        await self.ws.send(json.dumps(op))

    async def subscribe(self, channel: str, since: int | None = None) -> dict:
        """Subscribe and return the first answer (`subscribed` or `error`)."""
        op = {"op": "subscribe", "channel": channel}
        if since is not None:
            op["since"] = since
        await self.send(**op)
        return await self.next()

    async def next(self, within: float = 5) -> dict:
        return await asyncio.wait_for(self.frames.get(), within)

    async def events(self, channel: str, count: int, within: float = 10) -> list[dict]:
        """The next `count` event frames of `channel` (other frames are skipped)."""
        found: list[dict] = []
        deadline = time.monotonic() + within
        while len(found) < count:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            if frame.get("channel") == channel and frame["op"] in ("event", "reset"):
                found.append(frame)
        return found

    def count(self, channel: str) -> int:
        return sum(1 for f in self.received if f["op"] == "event" and f["channel"] == channel)

    async def wait_until(self, condition, within: float = 10) -> None:
        deadline = time.monotonic() + within
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    async def quiet(self, seconds: float) -> list[dict]:
        """Frames that arrive within the next `seconds`."""
        seen = len(self.received)
        await asyncio.sleep(seconds)
        return self.received[seen:]

    async def closed(self, within: float = 5) -> int | None:
        await asyncio.wait_for(self._reader, within)
        return self.ws.close_code

    async def close(self) -> None:
        if self._reader.done():  # nobody reads the closing handshake's answer: just drop the socket
            self.ws.transport.abort()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


async def emit_price_changes(listing_id: uuid.UUID, count: int, *, per_transaction: int = 1) -> None:
    """Commit `count` listing.price_changed events on `listings` and `listing:<id>` via the unit of work."""
    from app.core.db import UnitOfWork
    from app.events import ListingPriceChanged
    from realtime import channels

    version = 0
    while version < count:
        async with UnitOfWork() as uow:
            for _ in range(min(per_transaction, count - version)):
                version += 1
                uow.emit(
                    ListingPriceChanged(
                        listing_id=listing_id,
                        version=version,
                        old_price=str(version),
                        new_price=str(version + 1),
                        currency="USD",
                    ),
                    channels.listing_channels(listing_id),
                )


def assert_in_order(frames: list[dict], channel: str, first: int, last: int) -> None:
    """Exactly the events first..last of `channel`, once each, in order."""
    seqs = [f["seq"] for f in frames if f["op"] == "event" and f["channel"] == channel]
    assert seqs == list(range(first, last + 1)), seqs


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()

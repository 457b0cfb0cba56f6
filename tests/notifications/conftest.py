"""Notification tests: a real SMTP server (aiosmtpd), a stand-in Telegram Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import socket
from email import policy

import msgspec
import pytest
from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler: keeps every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class BotApi:
    """Answers `sendMessage` like Telegram does and records what was sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _send(self, request: web.Request) -> web.Response:
        self.sent.append({"token": request.match_info["token"], **(await request.json())})
        return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})

    async def start(self) -> BotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture(scope="module")
async def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    await asyncio.to_thread(controller.start)
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    await asyncio.to_thread(controller.stop)


@pytest.fixture(scope="module")
async def bot_api():
    api = await BotApi().start()
    yield api
    await api.stop()


@pytest.fixture(scope="module")
def notify_settings(app, mailbox, bot_api):
    from app.settings import load_settings

    return msgspec.structs.replace(
        load_settings(),
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        telegram_bot_token="123:test-token",
        telegram_webhook_secret="s3cret-token",
        telegram_api_base=f"http://127.0.0.1:{bot_api.port}",
        notify_retry_schedule=(1.0, 1.0),
        webhook_allow_hosts=("127.0.0.1",),
        public_url="https://atp.example",
    )


@pytest.fixture(scope="module")
def configured_app(app, notify_settings):
    previous = app.state.settings
    app.state.settings = notify_settings
    for name in ("telegram", "vapid"):
        if hasattr(app.state, name):
            delattr(app.state, name)
    yield app
    app.state.settings = previous
    for name in ("telegram", "vapid"):
        if hasattr(app.state, name):
            delattr(app.state, name)


@pytest.fixture(scope="module", autouse=True)
async def only_our_endpoints(client):
    from tests.webhooks.harness import disable_existing_endpoints

    await disable_existing_endpoints()

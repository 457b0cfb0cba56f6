"""The Telegram Bot API behind a small interface: an HTTP client for production, a fake for tests."""

from __future__ import annotations

from typing import Protocol

import httpx
import msgspec

from app.settings import Settings


class TelegramError(Exception):
    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


class TelegramApi(Protocol):
    async def send_message(self, chat_id: int, text: str) -> None: ...


class _Parameters(msgspec.Struct):
    retry_after: float | None = None


class _Answer(msgspec.Struct):
    ok: bool
    description: str = ""
    parameters: _Parameters | None = None


class HttpTelegram:
    """`sendMessage` against `{base}/bot{token}/` (base from settings, so a local stand-in works)."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/sendMessage"
        self._configured = bool(token)
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpTelegram:
        return cls(settings.telegram_api_base, settings.telegram_bot_token)

    async def send_message(self, chat_id: int, text: str) -> None:
        if not self._configured:
            raise TelegramError("Telegram is not configured (ATP_TELEGRAM_BOT_TOKEN)", retryable=False)
        try:
            response = await self._client.post(
                self._url, json={"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
            )
        except httpx.HTTPError as exc:
            raise TelegramError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        try:
            answer = msgspec.json.decode(response.content[:65536], type=_Answer)
        except msgspec.DecodeError:
            answer = _Answer(ok=False, description=f"HTTP {response.status_code}")
        if response.status_code == 200 and answer.ok:
            return
        retry_after = answer.parameters.retry_after if answer.parameters else None
        retryable = response.status_code == 429 or response.status_code >= 500
        # The token is part of the URL: never let it into an error message.
        raise TelegramError(
            f"Telegram HTTP {response.status_code}: {answer.description[:200]}",
            retryable=retryable,
            retry_after=retry_after,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class FakeTelegram:
    """Records messages instead of sending them (tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent.append((chat_id, text))

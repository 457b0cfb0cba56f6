"""Delivery channels behind one interface: email (SMTP), Telegram (Bot API) and web push (VAPID).

Each adapter finds its own target for a user (address, chat, subscriptions) and raises `DeliveryError`
when a send fails; `retryable=False` means retrying cannot help (no target, rejected address).
"""

from __future__ import annotations

import logging
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib
import httpx
import msgspec

from app.core import db, outbound
from app.core.backoff import parse_retry_after
from app.notifications import templates
from app.notifications.telegram_api import TelegramApi, TelegramError
from app.notifications.vapid import VapidKeys
from app.settings import Settings

log = logging.getLogger("atp.notifications")


class Message(msgspec.Struct, frozen=True, kw_only=True):
    notification_id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str | None  # absolute URL


class DeliveryError(Exception):
    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    async def send(self, user_id: uuid.UUID, message: Message) -> None: ...


class EmailChannel:
    """Email over SMTP with a plain-text and an HTML part."""

    name = "email"

    def __init__(self, settings: Settings, timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    async def send(self, user_id: uuid.UUID, message: Message) -> None:
        row = await db.fetchrow("SELECT email FROM users WHERE id = $1", user_id)
        if row is None:
            raise DeliveryError("the user no longer exists", retryable=False)
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = row["email"]
        mail["Subject"] = message.title
        mail["Message-ID"] = make_msgid(idstring=str(message.notification_id), domain="atp")
        mail.set_content(templates.email_text(message.title, message.body, message.link))
        mail.add_alternative(templates.email_html(message.title, message.body, message.link), subtype="html")
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_tls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", retryable=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", retryable=exc.code < 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


class TelegramChannel:
    """A message to the user's linked Telegram chat."""

    name = "telegram"

    def __init__(self, api: TelegramApi) -> None:
        self.api = api

    async def send(self, user_id: uuid.UUID, message: Message) -> None:
        row = await db.fetchrow("SELECT chat_id FROM telegram_links WHERE user_id = $1", user_id)
        if row is None:
            raise DeliveryError("no Telegram chat is linked", retryable=False)
        try:
            await self.api.send_message(
                row["chat_id"], templates.telegram_text(message.title, message.body, message.link)
            )
        except TelegramError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable, retry_after=exc.retry_after) from None


class PushChannel:
    """Web Push (RFC 8030, aes128gcm, VAPID) to every browser the user subscribed."""

    name = "push"

    def __init__(
        self, keys: VapidKeys, sender: outbound.Sender, allow_hosts: tuple[str, ...], subject: str
    ) -> None:
        self.keys = keys
        self.sender = sender
        self.allow_hosts = allow_hosts
        self.subject = subject

    async def send(self, user_id: uuid.UUID, message: Message) -> None:
        from pywebpush import WebPusher

        subscriptions = await db.fetch(
            "SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = $1", user_id
        )
        if not subscriptions:
            raise DeliveryError("no push subscription", retryable=False)
        payload = msgspec.json.encode(
            {
                "id": str(message.notification_id),
                "kind": message.kind,
                "title": message.title,
                "body": message.body,
                "link": message.link,
            }
        )
        failures: list[DeliveryError] = []
        for sub in subscriptions:
            info = {"endpoint": sub["endpoint"], "keys": {"p256dh": sub["p256dh"], "auth": sub["auth"]}}
            try:
                body = WebPusher(info).encode(payload, "aes128gcm")["body"]
                target = await outbound.resolve(sub["endpoint"], self.allow_hosts)
                parsed = httpx.URL(sub["endpoint"])
                headers = self.keys.sign(
                    {"sub": self.subject, "aud": f"{parsed.scheme}://{parsed.netloc.decode()}"}
                )
                headers.update({"TTL": "86400", "Content-Encoding": "aes128gcm", "Urgency": "normal"})
                answer = await self.sender.post(target, content=body, headers=headers, timeout_s=10.0)
            except outbound.UnsafeUrl as exc:
                failures.append(DeliveryError(f"push endpoint refused: {exc}", retryable=False))
                continue
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                failures.append(DeliveryError(f"{type(exc).__name__}: {exc}"))
                continue
            except Exception as exc:  # malformed keys in a subscription: that browser cannot be reached
                failures.append(
                    DeliveryError(f"cannot encrypt for this subscription: {exc}", retryable=False)
                )
                continue
            if answer.status in (404, 410):
                # The browser unsubscribed: forget it (RFC 8030 §7.3).
                await db.fetch("DELETE FROM push_subscriptions WHERE id = $1", sub["id"])
                failures.append(
                    DeliveryError("the browser unsubscribed (push service said gone)", retryable=False)
                )
            elif answer.status == 429 or answer.status >= 500:
                failures.append(
                    DeliveryError(
                        f"push service HTTP {answer.status}",
                        retry_after=parse_retry_after(answer.headers.get("retry-after")),
                    )
                )
            elif answer.status >= 300:
                failures.append(DeliveryError(f"push service HTTP {answer.status}", retryable=False))
        if len(failures) == len(subscriptions):  # not one browser got it
            retryable = [f for f in failures if f.retryable]
            raise retryable[0] if retryable else failures[0]

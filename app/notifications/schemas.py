"""Wire shapes of the notification centre, preferences, Telegram linking and web push."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from app.core.schema import Schema

ChannelName = Literal["email", "telegram", "push"]
CHANNELS: tuple[str, ...] = ("email", "telegram", "push")
Kind = Annotated[str, Meta(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")]


class NotificationRead(Schema):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class UnreadCount(Schema):
    count: int


class ReadAll(Schema):
    updated: int


class Preference(Schema):
    kind: Kind
    channels: Annotated[list[ChannelName], Meta(max_length=3)]


class Preferences(Schema):
    preferences: Annotated[list[Preference], Meta(max_length=100)]


class TelegramLinkCreate(Schema):
    code: Annotated[str, Meta(min_length=6, max_length=6, pattern=r"^[A-Za-z0-9]{6}$")]


class TelegramLinked(Schema):
    linked: bool
    chat_id: int | None = None


class VapidPublicKey(Schema):
    public_key: str


class PushKeys(Schema):
    p256dh: Annotated[str, Meta(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_\-=+/]+$")]
    auth: Annotated[str, Meta(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_\-=+/]+$")]


class PushSubscriptionCreate(Schema):
    endpoint: Annotated[str, Meta(min_length=12, max_length=2000, pattern=r"^https://")]
    keys: PushKeys


class PushSubscriptionRead(Schema):
    id: uuid.UUID
    endpoint: str
    created_at: datetime


class DeadLetterRead(Schema):
    """A webhook or notification delivery that exhausted its retries."""

    id: uuid.UUID
    source: Literal["webhook", "notification"]
    channel: str  # "webhook", "email", "telegram" or "push"
    user_id: uuid.UUID
    subject: str  # event type (webhook) or notification kind
    attempt: int
    last_error: str | None
    dead_at: datetime | None
    created_at: datetime


# --- Telegram's inbound update (https://core.telegram.org/bots/api#update) ---------------------
# Telegram adds fields over time: these structs ignore what they do not name, unlike our own schemas.


class TelegramChat(msgspec.Struct):
    id: int
    type: str = "private"


class TelegramMessage(msgspec.Struct):
    message_id: int
    chat: TelegramChat
    text: str | None = None


class TelegramUpdate(msgspec.Struct):
    update_id: int
    message: TelegramMessage | None = None

"""HTTP endpoints: the notification centre, preferences, Telegram linking, web push, dead letters."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.errors import AppError, ValidationFailed
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.notifications import dead_letters, preferences, push, service, telegram
from app.notifications.schemas import (
    DeadLetterRead,
    NotificationRead,
    Preferences,
    PushSubscriptionCreate,
    PushSubscriptionRead,
    ReadAll,
    TelegramLinkCreate,
    TelegramLinked,
    TelegramUpdate,
    UnreadCount,
    VapidPublicKey,
)
from app.notifications.telegram_api import HttpTelegram, TelegramApi
from app.notifications.vapid import VapidKeys, load_vapid
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=500)]
MAX_TELEGRAM_UPDATE_BYTES = 64 * 1024


class PushNotConfigured(AppError):
    status, code, title = 404, "push_not_configured", "Web push is not configured"


def telegram_api(state: State) -> TelegramApi:
    """The app's Telegram adapter (tests may put a fake on `app.state.telegram`)."""
    api = getattr(state, "telegram", None)
    if api is None:
        api = HttpTelegram.from_settings(state.settings)
        state.telegram = api
    return api


def vapid_keys(state: State) -> VapidKeys | None:
    if not hasattr(state, "vapid"):
        state.vapid = load_vapid(state.settings)
    return state.vapid


class NotificationController(Controller):
    path = "/api/notifications"
    tags = ["notifications"]
    security = SECURED

    @get("/", summary="My notifications, newest first")
    async def list_notifications(
        self,
        principal: NamedDependency[Principal],
        unread: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[NotificationRead]:
        return await service.list_notifications(principal, unread=unread, limit=limit, cursor=cursor)

    @get("/unread-count", summary="How many of my notifications are unread")
    async def unread_count(self, principal: NamedDependency[Principal]) -> UnreadCount:
        return UnreadCount(count=await service.unread_count(principal))

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark one notification read")
    async def mark_read(
        self, principal: NamedDependency[Principal], notification_id: FromPath[uuid.UUID]
    ) -> NotificationRead:
        return await service.mark_read(principal, notification_id)

    @post("/read-all", status_code=200, summary="Mark all my notifications read")
    async def mark_all_read(self, principal: NamedDependency[Principal]) -> ReadAll:
        return ReadAll(updated=await service.mark_all_read(principal))

    @get("/preferences", summary="Which channels each kind of notification reaches me on")
    async def get_preferences(self, principal: NamedDependency[Principal]) -> Preferences:
        return await preferences.get_preferences(principal)

    @put("/preferences", summary="Choose channels per kind (kinds not named keep their channels)")
    async def put_preferences(
        self, principal: NamedDependency[Principal], data: JSONBody[Preferences]
    ) -> Preferences:
        return await preferences.put_preferences(principal, data)


class TelegramController(Controller):
    path = "/api/telegram"
    tags = ["notifications"]

    @post("/link", security=SECURED, status_code=200, summary="Link my Telegram chat with the bot's code")
    async def link_telegram(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        data: JSONBody[TelegramLinkCreate],
    ) -> TelegramLinked:
        return await telegram.link(principal, redis, data.code)

    @delete("/link", security=SECURED, summary="Unlink my Telegram chat")
    async def unlink_telegram(self, principal: NamedDependency[Principal]) -> None:
        await telegram.unlink(principal)

    @post(
        "/webhook",
        status_code=200,
        summary="Telegram's update webhook (guarded by X-Telegram-Bot-Api-Secret-Token)",
    )
    async def telegram_webhook(
        self,
        request: Request,
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        secret_token: Annotated[
            str | None, HeaderParameter(name="X-Telegram-Bot-Api-Secret-Token", max_length=256)
        ] = None,
    ) -> dict[str, bool]:
        # The secret is checked before the body is even parsed: nobody else gets to probe the parser.
        telegram.check_secret(settings.telegram_webhook_secret, secret_token)
        body = await request.body()
        if len(body) > MAX_TELEGRAM_UPDATE_BYTES:
            raise ValidationFailed("the update is too large")
        try:
            update = msgspec.json.decode(body, type=TelegramUpdate)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValidationFailed(f"not a Telegram update: {exc}") from None
        await telegram.handle_update(
            redis, telegram_api(request.app.state), update, settings.telegram_code_ttl_s
        )
        return {"ok": True}


class PushController(Controller):
    path = "/api/push"
    tags = ["notifications"]

    @get("/vapid-public-key", summary="The VAPID key for PushManager.subscribe (applicationServerKey)")
    async def vapid_public_key(self, request: Request) -> VapidPublicKey:
        keys = vapid_keys(request.app.state)
        if keys is None:
            raise PushNotConfigured("set ATP_VAPID_PRIVATE_KEY to enable web push")
        return VapidPublicKey(public_key=keys.public_key)

    @post("/subscriptions", security=SECURED, status_code=201, summary="Register this browser for push")
    async def subscribe_push(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: JSONBody[PushSubscriptionCreate],
    ) -> PushSubscriptionRead:
        return await push.subscribe(principal, data, settings.webhook_allow_hosts)

    @delete("/subscriptions", security=SECURED, summary="Stop push to this browser")
    async def unsubscribe_push(
        self,
        principal: NamedDependency[Principal],
        endpoint: Annotated[str, QueryParameter(min_length=1, max_length=2000)],
    ) -> None:
        await push.unsubscribe(principal, endpoint)


class DeadLetterController(Controller):
    path = "/api/admin/dead-letters"
    tags = ["admin"]
    security = SECURED

    @get("/", summary="Webhook and notification deliveries that exhausted their retries (admin)")
    async def list_dead_letters(
        self,
        principal: NamedDependency[Principal],
        source: Annotated[Literal["webhook", "notification"] | None, QueryParameter()] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[DeadLetterRead]:
        return await dead_letters.list_dead_letters(principal, source=source, limit=limit, cursor=cursor)

    @post(
        "/{dead_letter_id:uuid}/replay",
        status_code=202,
        summary="Queue a dead delivery again (admin, audited)",
    )
    async def replay_dead_letter(
        self, principal: NamedDependency[Principal], dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterRead:
        return await dead_letters.replay(principal, dead_letter_id)

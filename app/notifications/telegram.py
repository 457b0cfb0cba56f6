"""Telegram account linking: the bot's `/connect` issues a one-time code; the web app redeems it."""

from __future__ import annotations

import hmac
import logging
import secrets

from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import AppError, NotAuthenticated, RateLimited, ValidationFailed
from app.notifications.schemas import TelegramLinked, TelegramUpdate
from app.notifications.telegram_api import TelegramApi, TelegramError

log = logging.getLogger("atp.notifications.telegram")

CODE_PREFIX = "atp:tg:code:"
TRIES_PREFIX = "atp:tg:tries:"
CODE_LENGTH = 6
# No 0/O, 1/I/L: a code read off a phone and typed on a laptop should not be mistyped.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MAX_TRIES, TRIES_WINDOW_S = 10, 900
CONNECT_COMMANDS = ("/connect", "/start")


class TelegramSecretInvalid(AppError):
    status, code, title = 403, "telegram_secret_invalid", "Invalid Telegram secret token"


class TelegramCodeInvalid(ValidationFailed):
    code, title = "telegram_code_invalid", "Invalid or expired Telegram code"


def check_secret(configured: str, presented: str | None) -> None:
    """401 without the header, 403 when it does not match (constant-time) or Telegram is not set up."""
    if presented is None:
        raise NotAuthenticated("X-Telegram-Bot-Api-Secret-Token is required", code="telegram_secret_missing")
    if not configured or not hmac.compare_digest(configured.encode(), presented.encode()):
        raise TelegramSecretInvalid("the secret token does not match")


async def issue_code(redis: Redis, chat_id: int, ttl_s: int) -> str:
    """A fresh code that links `chat_id` when redeemed within `ttl_s` seconds."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if await redis.set(CODE_PREFIX + code, str(chat_id), ex=ttl_s, nx=True):
            return code


async def handle_update(redis: Redis, api: TelegramApi, update: TelegramUpdate, ttl_s: int) -> None:
    """Answer `/connect` in a private chat with a linking code; ignore everything else."""
    message = update.message
    if message is None or not message.text or message.chat.type != "private":
        return
    command = message.text.strip().split()[0].split("@")[0].lower() if message.text.strip() else ""
    if command not in CONNECT_COMMANDS:
        return
    code = await issue_code(redis, message.chat.id, ttl_s)
    minutes = max(1, ttl_s // 60)
    text = (
        f"Your ATP link code is {code}\n\nEnter it in ATP → Settings → Notifications → Telegram within "
        f"{minutes} minute{'s' if minutes != 1 else ''}. It works once."
    )
    try:
        await api.send_message(message.chat.id, text)
    except TelegramError as exc:  # Telegram retries a failed webhook: answer 200 and let the user ask again
        log.warning("telegram: could not send a link code: %s", exc)


async def link(principal: Principal, redis: Redis, code: str) -> TelegramLinked:
    """Redeem a code (once) and link its chat to the caller; a chat belongs to one user at a time."""
    tries_key = TRIES_PREFIX + str(principal.user_id)
    tries = await redis.incr(tries_key)
    if tries == 1:
        await redis.expire(tries_key, TRIES_WINDOW_S)
    if tries > MAX_TRIES:
        raise RateLimited("too many link attempts; try again later", code="telegram_link_rate_limited")
    raw = await redis.getdel(CODE_PREFIX + code.upper())
    if raw is None:
        raise TelegramCodeInvalid(
            "the code is wrong, expired or already used; send /connect to the bot for a new one",
            errors=[{"field": "code", "message": "invalid or expired"}],
        )
    chat_id = int(raw)
    async with UnitOfWork() as uow:
        await uow.conn.execute(
            "DELETE FROM telegram_links WHERE chat_id = $1 AND user_id <> $2", chat_id, principal.user_id
        )
        await uow.conn.execute(
            """INSERT INTO telegram_links (user_id, chat_id) VALUES ($1, $2)
               ON CONFLICT (user_id) DO UPDATE SET chat_id = EXCLUDED.chat_id, linked_at = now()""",
            principal.user_id,
            chat_id,
        )
    await redis.delete(tries_key)
    return TelegramLinked(linked=True, chat_id=chat_id)


async def unlink(principal: Principal) -> None:
    await db.fetch("DELETE FROM telegram_links WHERE user_id = $1", principal.user_id)

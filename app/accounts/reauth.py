"""Step-up checks for security settings and the password change (docs/auth-hardening.md).

Changing how an account is protected (TOTP, API keys, the password) needs a person's log in, never an API
key, and a recent password: a log in under 10 minutes old (`auth_time`) or `currentPassword` in the body.
"""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from app.accounts import sessions
from app.accounts.schemas import PasswordChange
from app.auth import passwords, throttle
from app.auth.principal import Principal
from app.auth.scopes import InteractiveSessionRequired
from app.core.db import UnitOfWork
from app.core.errors import Forbidden, RateLimited, ValidationFailed


class RecentAuthRequired(Forbidden):
    code, title = "recent_auth_required", "Enter your password again"


async def require_recent_password(
    conn: asyncpg.Connection, principal: Principal, current_password: str | None, *, redis: Redis
) -> None:
    """A person (never an API key) who logged in within 10 minutes or sends the right current password."""
    if principal.api_key_id is not None:
        raise InteractiveSessionRequired("this needs 'Authorization: Bearer <token>' from a log in")
    if current_password is None:
        if sessions.is_recent(principal.auth_time):
            return
        raise RecentAuthRequired(
            "your log in is older than 10 minutes: send currentPassword with this request",
            errors=[{"field": "currentPassword", "message": "required"}],
        )
    await check_current_password(conn, principal, current_password, redis=redis)


async def check_current_password(
    conn: asyncpg.Connection, principal: Principal, password: str, *, redis: Redis
) -> None:
    """403 `invalid_current_password` unless `password` is the caller's; throttled like TOTP codes."""
    key = f"atp:auth:reauth-failures:{principal.user_id}"
    wait = await throttle.take(redis, key, limit=10, window_s=throttle.WINDOW_S)
    if wait:
        raise RateLimited("too many wrong passwords; try again later", retry_after=wait)
    stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", principal.user_id)
    if stored is None or not await passwords.verify_password(stored, password):
        raise Forbidden(
            "the current password is wrong",
            code="invalid_current_password",
            errors=[{"field": "currentPassword", "message": "wrong password"}],
        )
    await throttle.give_back(redis, key)


async def change_password(principal: Principal, data: PasswordChange, *, redis: Redis, ttl_s: int) -> None:
    """Set a new password; every other session of the account ends (tokens and sockets)."""
    if principal.api_key_id is not None:
        raise InteractiveSessionRequired("this needs 'Authorization: Bearer <token>' from a log in")
    problem = passwords.weakness(data.new_password)
    if problem:
        raise ValidationFailed(f"password {problem}", errors=[{"field": "newPassword", "message": problem}])
    async with UnitOfWork() as uow:
        await uow.conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", principal.user_id)
        await check_current_password(uow.conn, principal, data.current_password, redis=redis)
        await uow.conn.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            principal.user_id,
            await passwords.hash_password(data.new_password),
        )
        ended = await sessions.revoke_other_sessions(uow.conn, principal.user_id, principal.family_id)
    await sessions.deny_families(redis, ended, ttl_s=ttl_s)

"""Sessions a person can see and end: one per refresh-token family (API: docs/auth-hardening.md).

Ending a session revokes its refresh tokens in the database and, in Redis, every access token of the
family (`revoked_family_key`, checked in the same MGET as the jti); its sockets close at the next session
check of the realtime gateway, as a suspended user's do.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
from redis.asyncio import Redis

from app.accounts.schemas import SessionRead
from app.auth.principal import Principal, revoked_family_key
from app.core.db import UnitOfWork
from app.core.errors import NotFound
from app.core.pagination import Page, keyset_page

RECENT_AUTH_S = 10 * 60  # how long after entering the password a session may change security settings


class ClientContext(msgspec.Struct, frozen=True):
    """Where a log in comes from: the real client IP (trusted proxies only) and its User-Agent."""

    ip: str = ""
    user_agent: str = ""


async def record(
    conn: asyncpg.Connection,
    *,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    expires_at: datetime,
    client: ClientContext | None,
    new: bool,
) -> datetime:
    """Create (log in) or touch (refresh) the session row; its `auth_time`."""
    client = client or ClientContext()
    if new:
        return await conn.fetchval(
            """INSERT INTO auth_sessions (id, "user", user_agent, ip, expires_at) VALUES ($1, $2, $3, $4, $5)
               RETURNING auth_time""",
            family_id,
            user_id,
            client.user_agent[:512],
            client.ip[:64],
            expires_at,
        )
    # A family from before sessions were recorded gets its row now, with no recent password.
    return await conn.fetchval(
        """INSERT INTO auth_sessions (id, "user", user_agent, ip, expires_at, auth_time)
           VALUES ($1, $2, $3, $4, $5, to_timestamp(0))
           ON CONFLICT (id) DO UPDATE SET last_seen_at = now(),
               ip = CASE WHEN EXCLUDED.ip = '' THEN auth_sessions.ip ELSE EXCLUDED.ip END
           RETURNING auth_time""",
        family_id,
        user_id,
        client.user_agent[:512],
        client.ip[:64],
        expires_at,
    )


async def revoke_families(conn: asyncpg.Connection, where: str, *args) -> list[uuid.UUID]:
    """Revoke the refresh tokens and session rows of the families `where` selects; their ids."""
    families = [
        r["id"]
        for r in await conn.fetch(
            f"UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE {where} RETURNING id",
            *args,
        )
    ]
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family_id = ANY($1::uuid[])",
        families,
    )
    return families


async def deny_families(redis: Redis, families: list[uuid.UUID], *, ttl_s: int) -> None:
    """Kill every live access token of these families at once (call after the commit)."""
    if not families:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for family in families:
            pipe.set(revoked_family_key(family), "1", ex=ttl_s + 60)
        await pipe.execute()


def describe_device(user_agent: str) -> str:
    """'Firefox on Linux'-style words for a User-Agent; 'Unknown device' when it says nothing useful."""
    ua = user_agent or ""
    browser = next(
        (name for pattern, name in _BROWSERS if re.search(pattern, ua)),
        None,
    )
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system or ""
    return ua[:60].strip() or "Unknown device"


_BROWSERS = (
    (r"Edg/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/", "Firefox"),
    (r"Chrome/|CriOS/", "Chrome"),
    (r"Safari/", "Safari"),
    (r"^python-httpx|^python-requests|^aiohttp", "Python client"),
    (r"^curl/", "curl"),
)
_SYSTEMS = (
    (r"iPhone", "iPhone"),
    (r"iPad", "iPad"),
    (r"Android", "Android"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
)

_LIVE = """revoked_at IS NULL AND expires_at > now() AND EXISTS (
    SELECT 1 FROM refresh_tokens r WHERE r.family_id = auth_sessions.id
    AND r.used_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > now())"""


async def list_sessions(principal: Principal, *, limit: int, cursor: str | None) -> Page[SessionRead]:
    """The caller's live sessions, newest first; the one making the call says `current: true`."""

    def read(row) -> SessionRead:
        return SessionRead(
            id=row["id"],
            device=describe_device(row["user_agent"]),
            user_agent=row["user_agent"],
            ip=row["ip"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            current=row["id"] == principal.family_id,
        )

    return await keyset_page(
        "auth_sessions",
        filters=['"user" = $1', _LIVE],
        args=[principal.user_id],
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=read,
    )


async def revoke_session(principal: Principal, session_id: uuid.UUID, *, redis: Redis, ttl_s: int) -> None:
    """End one of the caller's sessions (404 when it is not theirs or already over)."""
    async with UnitOfWork() as uow:
        families = await revoke_families(
            uow.conn, f'id = $1 AND "user" = $2 AND {_LIVE}', session_id, principal.user_id
        )
    if not families:
        raise NotFound("session not found", code="session_not_found")
    await deny_families(redis, families, ttl_s=ttl_s)


async def revoke_other_sessions(
    conn: asyncpg.Connection, user_id: uuid.UUID, keep: uuid.UUID | None
) -> list[uuid.UUID]:
    """Revoke every session of the user but `keep`; the revoked families (deny them after the commit)."""
    families = await revoke_families(
        conn, '"user" = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2', user_id, keep
    )
    # Families that never got a session row (older than this table) end too.
    legacy = await conn.fetch(
        """WITH revoked AS (
             UPDATE refresh_tokens SET revoked_at = now()
             WHERE "user" = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2
             RETURNING family_id)
           SELECT DISTINCT family_id FROM revoked""",
        user_id,
        keep,
    )
    return sorted({*families, *(r["family_id"] for r in legacy)})


def is_recent(auth_time: int | None, now: float | None = None) -> bool:
    """True when the password was entered within RECENT_AUTH_S."""
    now = datetime.now(UTC).timestamp() if now is None else now
    return auth_time is not None and now - auth_time <= RECENT_AUTH_S


async def end_other_sessions(principal: Principal, *, redis: Redis, ttl_s: int) -> None:
    """End every session of the caller but the one making the call."""
    if principal.family_id is None:
        raise NotFound("this call needs a session of your own", code="session_not_found")
    async with UnitOfWork() as uow:
        families = await revoke_other_sessions(uow.conn, principal.user_id, principal.family_id)
    await deny_families(redis, families, ttl_s=ttl_s)

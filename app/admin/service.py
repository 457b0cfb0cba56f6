"""Admin: look up and change users; read the audit trail. Every change is audited."""

from __future__ import annotations

import uuid

import msgspec
from msgspec import UNSET
from redis.asyncio import Redis

from app.accounts.schemas import UserRead, user_read
from app.accounts.service import USER_COLUMNS, end_all_sessions, get_user
from app.admin.schemas import AuditEntryRead, UserAdminUpdate
from app.auth.principal import Principal
from app.core import audit, db
from app.core.db import UnitOfWork
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor, keyset_page


async def list_users(
    principal: Principal, *, status: str | None, user_type: str | None, limit: int, cursor: str | None
) -> Page[UserRead]:
    principal.require("admin:users")
    filters, args = [], []
    if status:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    if user_type:
        args.append(user_type)
        filters.append(f"user_type = ${len(args)}")
    return await keyset_page(
        "users",
        columns=USER_COLUMNS,
        filters=filters,
        args=args,
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=user_read,
    )


async def update_user(
    principal: Principal, user_id: uuid.UUID, data: UserAdminUpdate, *, redis: Redis, access_ttl_s: int
) -> UserRead:
    """Change status, verification level or type; suspension ends every session at once."""
    principal.require("admin:users")
    async with UnitOfWork() as uow:
        before = await get_user(uow.conn, user_id, for_update=True)
        changes = {
            column: value
            for column, value in (
                ("status", data.status),
                ("verification_level", data.verification_level),
                ("user_type", data.user_type),
            )
            if value is not UNSET and before[column] != value
        }
        if user_id == principal.user_id and ("status" in changes or "user_type" in changes):
            raise Conflict("admins cannot suspend or retype themselves", code="self_modification")
        if not changes:
            return user_read(before)
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
        after = await uow.conn.fetchrow(
            f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",
            user_id,
            *changes.values(),
        )
        if "user_type" in changes:
            await uow.conn.execute('DELETE FROM user_roles WHERE "user" = $1', user_id)
            await uow.conn.execute(
                'INSERT INTO user_roles ("user", role) SELECT $1, id FROM roles WHERE name = $2',
                user_id,
                changes["user_type"],
            )
        await audit.record(
            uow.conn,
            actor_id=principal.user_id,
            action="user.updated",
            subject_type="user",
            subject_id=user_id,
            data={"before": {c: before[c] for c in changes}, "after": changes},
        )
        if changes.get("status") == "suspended" or "user_type" in changes:
            await end_all_sessions(uow.conn, redis, user_id, ttl_s=access_ttl_s)
    return user_read(after)


async def list_audit(
    principal: Principal,
    *,
    actor_id: uuid.UUID | None,
    subject_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntryRead]:
    principal.require("admin:audit")
    where, args = ["true"], []
    if actor_id:
        args.append(actor_id)
        where.append(f"actor_id = ${len(args)}")
    if subject_id:
        args.append(subject_id)
        where.append(f"subject_id = ${len(args)}")
    after = decode_cursor(cursor, 1)
    if after:
        if not isinstance(after[0], int):
            raise ValidationFailed("cursor is not valid")
        args.append(after[0])
        where.append(f"id < ${len(args)}")
    args.append(limit + 1)
    rows = await db.fetch(
        f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ${len(args)}", *args
    )
    next_cursor = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    items = [
        AuditEntryRead(
            id=r["id"],
            actor_id=r["actor_id"],
            action=r["action"],
            subject_type=r["subject_type"],
            subject_id=r["subject_id"],
            data=msgspec.json.decode(r["data"]) if r["data"] else {},
            request_id=r["request_id"],
            created_at=r["created_at"],
        )
        for r in rows[:limit]
    ]
    return Page(items=items, next_cursor=next_cursor)

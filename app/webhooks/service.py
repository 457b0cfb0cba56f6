"""Webhook endpoints of bots and users: register, change, rotate the secret, read the log, replay."""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.principal import Principal
from app.core import crypto, db, outbound
from app.core.db import UnitOfWork
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import Page, keyset_page
from app.settings import Settings
from app.webhooks import signing
from app.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
)

MAX_ENDPOINTS = 20
_ENDPOINT = "id, url, event_types, description, enabled, disabled_reason, created_at, updated_at"
_DELIVERY = """id, endpoint_id, event_id, event_type, status, attempt, response_code, latency_ms, last_error,
               next_attempt_at, created_at, delivered_at, dead_at"""


class WebhookUrlForbidden(ValidationFailed):
    code, title = "webhook_url_forbidden", "Webhook URL not allowed"


class TooManyEndpoints(Conflict):
    code, title = "too_many_webhook_endpoints", "Webhook endpoint limit reached"


class DeliveryPending(Conflict):
    code, title = "delivery_pending", "The delivery is still being tried"


async def check_url(url: str, settings: Settings) -> None:
    """422 `webhook_url_forbidden` unless `url` is http(s) to public addresses (or allowlisted)."""
    try:
        await outbound.resolve(url, settings.webhook_allow_hosts)
    except outbound.UnsafeUrl as exc:
        raise WebhookUrlForbidden(str(exc), errors=[{"field": "url", "message": str(exc)}]) from None


async def store_secret(conn, endpoint_id: uuid.UUID, secret: str) -> None:
    """Keep a signing secret, encrypted and sealed to its own row (app/core/crypto.py)."""
    secret_id = uuid.uuid4()
    sealed = crypto.seal(secret, table="webhook_secrets", column="secret", row_id=secret_id)
    await conn.execute(
        "INSERT INTO webhook_secrets (id, endpoint_id, secret) VALUES ($1, $2, $3)",
        secret_id,
        endpoint_id,
        sealed,
    )


def secret_of(row) -> str:
    """The plaintext of a `webhook_secrets` row (its `id` and `secret`)."""
    return crypto.unseal(row["secret"], table="webhook_secrets", column="secret", row_id=row["id"])


def _endpoint(row, secret: str | None = None) -> EndpointRead:
    fields: dict[str, Any] = {
        "id": row["id"],
        "url": row["url"],
        "event_types": list(row["event_types"]),
        "description": row["description"],
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    return EndpointWithSecret(**fields, secret=secret) if secret is not None else EndpointRead(**fields)


def delivery_read(row) -> DeliveryRead:
    return DeliveryRead(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempt=row["attempt"],
        response_code=row["response_code"],
        latency_ms=row["latency_ms"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        dead_at=row["dead_at"],
    )


async def create_endpoint(
    principal: Principal, data: EndpointCreate, settings: Settings
) -> EndpointWithSecret:
    """Register an endpoint for the caller; the answer carries its secret, shown this once."""
    principal.require("webhooks:manage")
    await check_url(data.url, settings)
    secret = signing.generate_secret()
    async with UnitOfWork() as uow:
        # Serialize one owner's creates so the limit holds under concurrent requests.
        await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"webhooks:{principal.user_id}")
        count = await uow.conn.fetchval(
            "SELECT count(*) FROM webhook_endpoints WHERE owner_id = $1", principal.user_id
        )
        if count >= MAX_ENDPOINTS:
            raise TooManyEndpoints(f"at most {MAX_ENDPOINTS} webhook endpoints per user")
        row = await uow.conn.fetchrow(
            f"""INSERT INTO webhook_endpoints (owner_id, url, event_types, description)
                VALUES ($1, $2, $3, $4) RETURNING {_ENDPOINT}""",
            principal.user_id,
            data.url,
            list(dict.fromkeys(data.event_types)),
            data.description,
        )
        await store_secret(uow.conn, row["id"], secret)
    return _endpoint(row, secret)  # type: ignore[return-value]


async def list_endpoints(principal: Principal) -> list[EndpointRead]:
    rows = await db.fetch(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE owner_id = $1 ORDER BY created_at, id",
        principal.user_id,
    )
    return [_endpoint(r) for r in rows]


async def get_endpoint(principal: Principal, endpoint_id: uuid.UUID) -> EndpointRead:
    row = await db.fetchrow(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE id = $1 AND owner_id = $2",
        endpoint_id,
        principal.user_id,
    )
    if row is None:
        raise NotFound("webhook endpoint not found")
    return _endpoint(row)


async def update_endpoint(
    principal: Principal, endpoint_id: uuid.UUID, data: EndpointUpdate, settings: Settings
) -> EndpointRead:
    """Change URL, event types, description or `enabled`; re-enabling resumes the pending queue."""
    principal.require("webhooks:manage")
    sets: list[str] = ["updated_at = now()"]
    args: list[Any] = [endpoint_id, principal.user_id]

    def put(column: str, value: Any) -> None:
        args.append(value)
        sets.append(f"{column} = ${len(args)}")

    if isinstance(data.url, str):
        await check_url(data.url, settings)
        put("url", data.url)
    if isinstance(data.event_types, list):
        put("event_types", list(dict.fromkeys(data.event_types)))
    if isinstance(data.description, str):
        put("description", data.description)
    if isinstance(data.enabled, bool):
        put("enabled", data.enabled)
        if data.enabled:
            sets += ["disabled_reason = NULL", "failing_since = NULL"]
        else:
            sets.append("disabled_reason = 'disabled by its owner'")
    row = await db.fetchrow(
        f"UPDATE webhook_endpoints SET {', '.join(sets)} WHERE id = $1 AND owner_id = $2 RETURNING {_ENDPOINT}",
        *args,
    )
    if row is None:
        raise NotFound("webhook endpoint not found")
    return _endpoint(row)


async def delete_endpoint(principal: Principal, endpoint_id: uuid.UUID) -> None:
    principal.require("webhooks:manage")
    row = await db.fetchrow(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND owner_id = $2 RETURNING id",
        endpoint_id,
        principal.user_id,
    )
    if row is None:
        raise NotFound("webhook endpoint not found")


async def rotate_secret(principal: Principal, endpoint_id: uuid.UUID, overlap_s: int) -> EndpointWithSecret:
    """A new secret; the current ones keep signing alongside it for `overlap_s` seconds."""
    principal.require("webhooks:manage")
    secret = signing.generate_secret()
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            f"""UPDATE webhook_endpoints SET updated_at = now() WHERE id = $1 AND owner_id = $2
                RETURNING {_ENDPOINT}""",
            endpoint_id,
            principal.user_id,
        )
        if row is None:
            raise NotFound("webhook endpoint not found")
        await uow.conn.execute(
            "DELETE FROM webhook_secrets WHERE endpoint_id = $1 AND expires_at <= now()", endpoint_id
        )
        await uow.conn.execute(
            """UPDATE webhook_secrets SET expires_at = now() + make_interval(secs => $2)
               WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $2))""",
            endpoint_id,
            float(overlap_s),
        )
        await store_secret(uow.conn, endpoint_id, secret)
    return _endpoint(row, secret)  # type: ignore[return-value]


async def list_deliveries(
    principal: Principal, endpoint_id: uuid.UUID, *, status: str | None, limit: int, cursor: str | None
) -> Page[DeliveryRead]:
    """The endpoint's delivery log, newest first."""
    await get_endpoint(principal, endpoint_id)
    filters, args = ["endpoint_id = $1"], [endpoint_id]
    if status is not None:
        args.append(status)
        filters.append(f"status = ${len(args)}")
    return await keyset_page(
        "webhook_deliveries",
        columns=_DELIVERY,
        filters=filters,
        args=args,
        key="created_at",
        limit=limit,
        cursor=cursor,
        read=delivery_read,
    )


async def _owned_delivery(principal: Principal, delivery_id: uuid.UUID):
    row = await db.fetchrow(
        f"""SELECT {", ".join("d." + c.strip() for c in _DELIVERY.split(","))}
            FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.id = $1 AND e.owner_id = $2""",
        delivery_id,
        principal.user_id,
    )
    if row is None:
        raise NotFound("delivery not found")
    return row


async def get_delivery(principal: Principal, delivery_id: uuid.UUID) -> DeliveryDetail:
    """One delivery with every attempt made."""
    row = await _owned_delivery(principal, delivery_id)
    attempts = await db.fetch(
        """SELECT attempt, response_code, latency_ms, error, attempted_at FROM webhook_attempts
           WHERE delivery_id = $1 ORDER BY attempt, id""",
        delivery_id,
    )
    base = delivery_read(row)
    return DeliveryDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        attempts=[AttemptRead(**dict(a)) for a in attempts],
    )


async def replay_delivery(principal: Principal, delivery_id: uuid.UUID) -> DeliveryRead:
    """Send a finished (dead or succeeded) delivery again, with a fresh retry schedule."""
    await _owned_delivery(principal, delivery_id)
    return await requeue(delivery_id)


async def requeue(delivery_id: uuid.UUID) -> DeliveryRead:
    """Put a finished delivery back in its endpoint's queue (its place follows the event's order)."""
    row = await db.fetchrow(
        f"""UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = now(), dead_at = NULL,
                   updated_at = now()
            WHERE id = $1 AND status <> 'pending' RETURNING {_DELIVERY}""",
        delivery_id,
    )
    if row is None:
        raise DeliveryPending("the delivery is already queued; replay it once it has succeeded or died")
    return delivery_read(row)

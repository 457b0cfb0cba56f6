"""From outbox events to signed HTTP deliveries: consume, queue per endpoint, send in order, retry, dead-letter.

Order: each endpoint is a queue ordered by the event's outbox position, and only its head (the oldest
pending delivery) is ever sent. A later event waits while an earlier one is retried; a dead delivery no
longer blocks. One worker at a time owns an endpoint (a lease on its row), so sends never overlap.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

import httpx
import msgspec
from opentelemetry.trace import SpanKind, StatusCode

from app.core import backoff, consumers, db, outbound, tracing
from app.core.db import UnitOfWork
from app.listings import policy
from app.notifications.service import notify
from app.settings import Settings
from app.webhooks import signing
from app.webhooks.service import secret_of
from realtime import channels

log = logging.getLogger("atp.webhooks")

CURSOR_TABLE, CURSOR = "webhook_cursors", "webhooks"
USER_AGENT = "ATP-Webhooks/1"


BATCH_S = 2.0


class Config(msgspec.Struct, frozen=True, kw_only=True):
    retry_schedule: tuple[float, ...]
    timeout_s: float
    allow_hosts: tuple[str, ...]
    lease_s: float = 60.0
    # One job sends for at most this long, then frees its worker slot; the pump re-queues it within 0.1 s.
    batch_s: float = BATCH_S

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(
            retry_schedule=settings.webhook_retry_schedule,
            timeout_s=settings.webhook_timeout_s,
            allow_hosts=settings.webhook_allow_hosts,
            # A job sends for at most batch_s, then finishes the attempt under way (≤ timeout_s): the lease
            # outlasts that with room to spare, and lapses soon after a worker is killed mid-send.
            lease_s=BATCH_S + 2 * settings.webhook_timeout_s + 5,
        )

    @property
    def disable_after_s(self) -> float:
        """An endpoint failing this long without one success is disabled when a delivery dies:
        half the retry schedule (about 14 h by default)."""
        return sum(self.retry_schedule) / 2


def _audience(channel: str) -> tuple[str, uuid.UUID | None] | None:
    """Who may see an event on `channel` through a webhook: everyone (the public listings feed),
    one user (their own channel), or nobody (per-object and admin channels)."""
    name = channels.parse(channel)
    if name is None:
        return None
    if name.kind == channels.LISTINGS:
        return ("public", None)
    if name.kind == channels.USER:
        return ("user", name.object_id)
    return None


def _listing_id(row) -> uuid.UUID | None:
    payload = row["payload"]
    data = msgspec.json.decode(payload) if isinstance(payload, (str, bytes)) else payload
    value = data.get("listingId") if isinstance(data, dict) else None
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def _still_public(conn, relevant: list) -> list:
    """Drop public events about listings that are not public any more (app/listings/policy.py).

    The event was public when it was emitted; a bot reads it later, so it gets it only if it may
    read the listing now. The status change that took the listing out of view names no data and
    still goes out; nothing else does. The seller side has every event on its own channel.
    """
    about = {id(r): lid for r, (scope, _) in relevant if scope == "public" and (lid := _listing_id(r))}
    hidden = await policy.hidden_now(conn, about.values())
    if not hidden:
        return relevant
    return [
        (r, a) for r, a in relevant if about.get(id(r)) not in hidden or r["event_type"] == policy.GONE_EVENT
    ]


async def consume_events(config: Config, *, limit: int = 500) -> tuple[int, set[uuid.UUID]]:
    """Turn outbox events since the last run into deliveries; (events read, endpoints given work).
    Events read is -1 when another pump holds the position (it is doing this work right now)."""
    touched: set[uuid.UUID] = set()
    async with UnitOfWork() as uow:
        after = await consumers.read_position(uow.conn, CURSOR_TABLE, CURSOR, skip_locked=True)
        if after is None:  # another pump is reading right now
            return -1, touched
        rows, position = await consumers.committed_events(uow.conn, after, limit=limit)
        if position == after:
            return 0, touched
        relevant = [(r, a) for r in rows if (a := _audience(r["channel"])) is not None]
        relevant = await _still_public(uow.conn, relevant)
        if relevant:
            types = list({r["event_type"] for r, _ in relevant})
            endpoints = await uow.conn.fetch(
                "SELECT id, owner_id, event_types FROM webhook_endpoints WHERE enabled AND event_types && $1",
                types,
            )
            by_type: dict[str, list] = {}
            for endpoint in endpoints:
                for event_type in endpoint["event_types"]:
                    by_type.setdefault(event_type, []).append(endpoint)
            columns: tuple[list, ...] = ([], [], [], [], [], [], [])
            for row, (scope, user_id) in relevant:
                for endpoint in by_type.get(row["event_type"], ()):
                    if scope == "user" and endpoint["owner_id"] != user_id:
                        continue
                    for column, value in zip(
                        columns,
                        (
                            endpoint["id"],
                            row["event_id"],
                            row["event_type"],
                            row["position"],
                            row["payload"],
                            row["occurred_at"],
                            row["traceparent"],
                        ),
                        strict=True,
                    ):
                        column.append(value)
            if columns[0]:
                inserted = await uow.conn.fetch(
                    """INSERT INTO webhook_deliveries
                           (endpoint_id, event_id, event_type, seq, payload, occurred_at, traceparent)
                       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::jsonb[],
                                            $6::timestamptz[], $7::text[])
                       ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING endpoint_id""",
                    *columns,
                )
                touched = {r["endpoint_id"] for r in inserted}
        await consumers.save_position(uow.conn, CURSOR_TABLE, CURSOR, position)
    return len(rows), touched


async def due_endpoints(limit: int = 1000) -> list[uuid.UUID]:
    """Enabled, unleased endpoints whose head delivery is due now."""
    rows = await db.fetch(
        """SELECT e.id FROM webhook_endpoints e
           JOIN LATERAL (SELECT d.next_attempt_at FROM webhook_deliveries d
                         WHERE d.endpoint_id = e.id AND d.status = 'pending' ORDER BY d.seq LIMIT 1) head ON true
           WHERE e.enabled AND (e.lease_until IS NULL OR e.lease_until < now()) AND head.next_attempt_at <= now()
           LIMIT $1""",
        limit,
    )
    return [r["id"] for r in rows]


def body_of(row) -> bytes:
    """The delivery body `{"type","timestamp","data"}`; the same bytes on every attempt and replay."""
    payload = row["payload"]
    data = payload.encode() if isinstance(payload, str) else msgspec.json.encode(payload)
    return b"".join(
        (
            b'{"type":',
            msgspec.json.encode(row["event_type"]),
            b',"timestamp":',
            msgspec.json.encode(row["occurred_at"].astimezone(UTC)),
            b',"data":',
            data,
            b"}",
        )
    )


class Outcome(msgspec.Struct, frozen=True):
    ok: bool
    status: int | None
    latency_ms: int
    error: str | None
    response_body: str | None = None
    retry_after: float | None = None


async def attempt(row, url: str, secrets: list[str], config: Config, sender: outbound.Sender) -> Outcome:
    """One signed POST of the delivery `row` to `url` (re-checked against SSRF first), traced as a span
    in the trace that emitted the event, linked to the job that sends it."""
    with tracing.span(
        f"webhook deliver {row['event_type']}",
        parent=row.get("traceparent"),
        links=[tracing.current_traceparent()],
        kind=SpanKind.CLIENT,
        attributes={"atp.delivery_id": str(row["id"]), "atp.attempt": row["attempt"] + 1},
    ) as current:
        outcome = await _attempt(row, url, secrets, config, sender)
        if current is not None:
            current.set_attribute("atp.outcome", "ok" if outcome.ok else "failed")
            if outcome.status is not None:
                current.set_attribute("http.response.status_code", outcome.status)
            if not outcome.ok:
                current.set_status(StatusCode.ERROR, outcome.error)
        return outcome


async def _attempt(row, url: str, secrets: list[str], config: Config, sender: outbound.Sender) -> Outcome:
    body = body_of(row)
    headers = signing.headers(secrets, str(row["id"]), int(time.time()), body)
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    started = time.perf_counter()
    try:
        target = await outbound.resolve(url, config.allow_hosts)
        answer = await sender.post(target, content=body, headers=headers, timeout_s=config.timeout_s)
    except outbound.UnsafeUrl as exc:
        return Outcome(False, None, _ms(started), f"address refused: {exc}")
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        return Outcome(False, None, _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # anything else still counts as a failed attempt, never a stuck queue head
        log.exception("webhooks: attempt of delivery %s failed unexpectedly", row["id"])
        return Outcome(False, None, _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    text = answer.body.decode("utf-8", "replace")
    if 200 <= answer.status < 300:
        return Outcome(True, answer.status, answer.latency_ms, None, text)
    retry_after = None
    if answer.status in (429, 503):
        retry_after = backoff.parse_retry_after(answer.headers.get("retry-after"))
    return Outcome(False, answer.status, answer.latency_ms, f"HTTP {answer.status}", text, retry_after)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def record(row, endpoint, outcome: Outcome, config: Config) -> str:
    """Log the attempt and move the delivery on; 'succeeded', 'pending' (retry later) or 'dead'."""
    number = row["attempt"] + 1
    async with UnitOfWork() as uow:
        conn = uow.conn
        await conn.execute(
            """INSERT INTO webhook_attempts (delivery_id, attempt, response_code, latency_ms, error, response_body)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            row["id"],
            number,
            outcome.status,
            outcome.latency_ms,
            outcome.error,
            outcome.response_body,
        )
        common = (row["id"], number, outcome.status, outcome.latency_ms, outcome.error)
        if outcome.ok:
            await conn.execute(
                """UPDATE webhook_deliveries SET status = 'succeeded', attempt = $2, response_code = $3,
                          latency_ms = $4, last_error = $5, delivered_at = now(), updated_at = now()
                   WHERE id = $1""",
                *common,
            )
            await conn.execute(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1", endpoint["id"]
            )
            return "succeeded"
        failing_since = await conn.fetchval(
            """UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) WHERE id = $1
               RETURNING failing_since""",
            endpoint["id"],
        )
        delay = backoff.next_delay(config.retry_schedule, row["step"], outcome.retry_after)
        if delay is not None:
            await conn.execute(
                """UPDATE webhook_deliveries SET attempt = $2, response_code = $3, latency_ms = $4, last_error = $5,
                          step = step + 1, next_attempt_at = now() + make_interval(secs => $6), updated_at = now()
                   WHERE id = $1""",
                *common,
                delay,
            )
            return "pending"
        await conn.execute(
            """UPDATE webhook_deliveries SET status = 'dead', attempt = $2, response_code = $3, latency_ms = $4,
                      last_error = $5, dead_at = now(), updated_at = now()
               WHERE id = $1""",
            *common,
        )
        failing_for = (datetime.now(UTC) - failing_since).total_seconds() if failing_since else 0.0
        if failing_for >= config.disable_after_s:
            await _disable(uow, endpoint, failing_for)
        return "dead"


async def _disable(uow: UnitOfWork, endpoint, failing_for: float) -> None:
    disabled = await uow.conn.fetchval(
        """UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
           WHERE id = $1 AND enabled RETURNING id""",
        endpoint["id"],
        "disabled after repeated delivery failures",
    )
    if disabled is None:
        return
    hours = failing_for / 3600
    await notify(
        uow,
        endpoint["owner_id"],
        "webhook.endpoint_disabled",
        "Webhook endpoint disabled",
        f"Deliveries to {endpoint['url']} have failed for {hours:.1f} h, so the endpoint was disabled. "
        "Fix the receiver, re-enable the endpoint, and replay dead deliveries from its log.",
        "/settings/webhooks",
        {"endpointId": str(endpoint["id"]), "url": endpoint["url"]},
    )
    log.warning("webhooks: endpoint %s disabled after %.0f s of failures", endpoint["id"], failing_for)


class _Owner(msgspec.Struct, frozen=True):
    """An endpoint's owner as the listing rule sees them (bots never get admin reads)."""

    user_id: uuid.UUID
    is_admin: bool = False


async def _withheld(head, owner_id: uuid.UUID) -> bool:
    """Whether this delivery carries a listing its endpoint's owner may no longer read.

    A retry or replay may come hours after the event: it goes out only if the owner may read the
    listing now (app/listings/policy.py). Hold and reservation events name no listing data.
    """
    event_type = head["event_type"]
    if not event_type.startswith("listing.") or event_type == policy.GONE_EVENT:
        return False
    listing_id = _listing_id(head)
    if listing_id is None:
        return False
    row = await db.fetchrow("SELECT status, seller FROM listings WHERE id = $1", listing_id)
    return row is not None and not policy.may_read_row(row, _Owner(owner_id))


async def _withhold(delivery_id: uuid.UUID) -> None:
    # Dead with a reason, not deleted: the owner's log says why it never came; a replay checks again.
    await db.fetch(
        """UPDATE webhook_deliveries SET status = 'dead', dead_at = now(), updated_at = now(),
                  last_error = 'withheld: the listing is no longer visible to this endpoint''s owner'
           WHERE id = $1 AND status = 'pending'""",
        delivery_id,
    )


async def deliver_endpoint(endpoint_id: uuid.UUID, config: Config, sender: outbound.Sender) -> dict[str, int]:
    """Send the endpoint's due deliveries in order until one fails, none is due, or the batch time ends."""
    sent = {"succeeded": 0, "pending": 0, "dead": 0}
    endpoint = await db.fetchrow(
        """UPDATE webhook_endpoints SET lease_until = now() + make_interval(secs => $2)
           WHERE id = $1 AND enabled AND (lease_until IS NULL OR lease_until < now())
           RETURNING id, owner_id, url""",
        endpoint_id,
        config.lease_s,
    )
    if endpoint is None:
        return sent  # another worker holds it, or it was disabled or deleted
    try:
        deadline = time.monotonic() + min(config.batch_s, config.lease_s / 2)
        secrets: list[str] | None = None
        secrets_read_at = 0.0
        while time.monotonic() < deadline:
            head = await db.fetchrow(
                """SELECT id, event_type, payload, occurred_at, attempt, step, traceparent,
                          next_attempt_at <= now() AS due
                   FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending' ORDER BY seq LIMIT 1""",
                endpoint_id,
            )
            if head is None or not head["due"]:
                break
            if secrets is None or time.monotonic() > secrets_read_at + 5:
                secrets_read_at = time.monotonic()
                secrets = [
                    secret_of(r)
                    for r in await db.fetch(
                        """SELECT id, secret FROM webhook_secrets WHERE endpoint_id = $1
                           AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC""",
                        endpoint_id,
                    )
                ]
            if await _withheld(head, endpoint["owner_id"]):
                await _withhold(head["id"])
                sent["dead"] += 1
                continue
            outcome = await attempt(head, endpoint["url"], secrets, config, sender)
            result = await record(head, endpoint, outcome, config)
            sent[result] += 1
            if result == "pending":
                break  # the head waits for its retry, and everything behind it waits too
            if result == "dead" and not await db.fetchrow(
                "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND enabled", endpoint_id
            ):
                break
    finally:
        await db.fetch("UPDATE webhook_endpoints SET lease_until = NULL WHERE id = $1", endpoint_id)
    return sent


async def prune_log(*, keep_days: int = 30, keep_dead_days: int = 90, batch: int = 5000) -> int:
    """Delete finished deliveries (and their attempts) older than the retention; pending ones stay."""
    rows = await db.fetch(
        """DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE (status = 'succeeded' AND delivered_at < now() - make_interval(days => $1))
                OR (status = 'dead' AND dead_at < now() - make_interval(days => $2))
             LIMIT $3) RETURNING id""",
        keep_days,
        keep_dead_days,
        batch,
    )
    return len(rows)

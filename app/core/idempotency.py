"""`Idempotency-Key` for POSTs (Stripe semantics): a retried request gets the first answer, errors included.

The key is claimed with `INSERT ... ON CONFLICT DO NOTHING` on the unique (scope, key) index before
the effect runs, so among any number of concurrent duplicates exactly one runs the effect; the others
wait for its stored answer. Same key with a different body → 422. A claim whose owner died before
storing an answer (crash) is taken over after `STALE_AFTER_S`; the effect itself is still guarded by
its own database constraints, so a takeover cannot double it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Response

from app.core import db
from app.core.errors import PROBLEM_JSON, AppError, Conflict, ValidationFailed, problem

log = logging.getLogger("atp.idempotency")

MAX_KEY_LENGTH = 200
WAIT_S = 15.0
STALE_AFTER_S = 60
_POLL_S = 0.02


class KeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "Idempotency key reused with a different request"


class KeyInUse(Conflict):
    code, title = "idempotency_key_in_use", "A request with this idempotency key is still running"


async def idempotent(
    key: str | None,
    *,
    scope: str,
    body: bytes,
    run: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Response:
    """Run `run` once per (scope, key) and answer every repeat with the stored first response."""
    if key is None:
        return await _execute(run, status_code)
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key must be 1-200 printable characters",
            errors=[{"field": "Idempotency-Key", "message": "invalid"}],
        )
    request_hash = hashlib.sha256(body).hexdigest()
    deadline = time.monotonic() + WAIT_S
    while True:
        claim = await db.fetchrow(
            """INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, now())
               ON CONFLICT (scope, key) DO NOTHING RETURNING id""",
            scope,
            key,
            request_hash,
        )
        if claim is None:
            claim = await _existing(scope, key, request_hash)
        if isinstance(claim, Response):
            return claim
        if claim is not None:
            return await _own(claim["id"], run, status_code)
        if time.monotonic() > deadline:
            raise KeyInUse("a request with this Idempotency-Key is still in progress; retry later")
        await asyncio.sleep(_POLL_S)


async def _existing(scope: str, key: str, request_hash: str):
    """The stored response, a taken-over stale claim, or None while the first request still runs."""
    row = await db.fetchrow(
        """SELECT id, request_hash, status_code, response_body,
                  created_at < now() - make_interval(secs => $3) AS stale
           FROM idempotency_keys WHERE scope = $1 AND key = $2""",
        scope,
        key,
        STALE_AFTER_S,
    )
    if row is None:
        return None  # the owner gave its claim up; the next loop claims it afresh
    if row["request_hash"] != request_hash:
        raise KeyReused(
            "this Idempotency-Key was used with a different request",
            errors=[{"field": "Idempotency-Key", "message": "already used with another body"}],
        )
    if row["status_code"] is not None:
        return _replay(row["status_code"], row["response_body"])
    if row["stale"]:
        return await db.fetchrow(
            """UPDATE idempotency_keys SET created_at = now()
               WHERE id = $1 AND status_code IS NULL AND created_at < now() - make_interval(secs => $2)
               RETURNING id""",
            row["id"],
            STALE_AFTER_S,
        )
    return None


async def _own(claim_id: int, run: Callable[[], Awaitable[Any]], status_code: int) -> Response:
    try:
        response = await _execute(run, status_code)
    except BaseException:
        # An unexpected failure is not an answer worth replaying: free the key for a retry.
        await db.fetch("DELETE FROM idempotency_keys WHERE id = $1 AND status_code IS NULL", claim_id)
        raise
    await db.fetch(
        "UPDATE idempotency_keys SET status_code = $2, response_body = $3 WHERE id = $1",
        claim_id,
        response.status_code,
        response.content.decode() if isinstance(response.content, bytes) else "",
    )
    return response


async def _execute(run: Callable[[], Awaitable[Any]], status_code: int) -> Response:
    try:
        result = await run()
    except AppError as exc:
        return problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    return Response(
        content=msgspec.json.encode(result), status_code=status_code, media_type="application/json"
    )


def _replay(status: int, body: str | None) -> Response:
    media_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(
        content=(body or "").encode(),
        status_code=status,
        media_type=media_type,
        headers={"Idempotent-Replayed": "true"},
    )

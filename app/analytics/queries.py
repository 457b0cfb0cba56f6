"""Reads of risk flags: a listing's open flags (owner, admin) and the admins' list of flagged listings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from app.analytics.schemas import FlaggedListing, RiskFlagRead, RiskFlags
from app.auth.principal import Principal
from app.core import db
from app.core.errors import Forbidden, NotFound, ValidationFailed
from app.core.pagination import Page, decode_cursor, encode_cursor


def _flag(row: Any) -> RiskFlagRead:
    evidence = row["evidence"]
    return RiskFlagRead(
        code=row["code"],
        severity=row["severity"],
        detail=row["detail"],
        evidence=msgspec.json.decode(evidence) if isinstance(evidence, str | bytes) else dict(evidence),
        raised_at=row["raised_at"],
    )


async def listing_flags(principal: Principal, listing_id: uuid.UUID) -> RiskFlags:
    """Open flags of a listing: its owner and admins only (404 for anyone else, like a hidden listing)."""
    listing = await db.fetchrow("SELECT id, seller, status FROM listings WHERE id = $1", listing_id)
    if listing is None or not (principal.is_admin or principal.user_id == listing["seller"]):
        raise NotFound("listing not found")
    rows = await db.fetch(
        "SELECT * FROM risk_flags WHERE listing_id = $1 AND cleared_at IS NULL ORDER BY raised_at DESC, id DESC",
        listing_id,
    )
    return RiskFlags(flags=[_flag(r) for r in rows])


async def flagged_listings(
    principal: Principal, *, code: str | None, severity: str | None, limit: int, cursor: str | None
) -> Page[FlaggedListing]:
    """Listings with open flags (admins), most recently flagged first, each with its flags and evidence."""
    if not principal.is_admin:
        raise Forbidden("only administrators may list risk flags")
    after = decode_cursor(cursor, 2)
    try:
        after_at = datetime.fromisoformat(after[0]) if after else None
        after_id = uuid.UUID(after[1]) if after else None
    except (TypeError, ValueError):
        raise ValidationFailed(
            "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
        ) from None
    rows = await db.fetch(
        """WITH latest AS (
               SELECT listing_id, max(raised_at) AS at FROM risk_flags
               WHERE cleared_at IS NULL AND ($1::text IS NULL OR code = $1) AND ($2::text IS NULL OR severity = $2)
               GROUP BY listing_id)
           SELECT latest.listing_id, latest.at, l.manufacturer, l.model, l.year_manufactured, l.status, l.seller
           FROM latest JOIN listings l ON l.id = latest.listing_id
           WHERE $3::timestamptz IS NULL OR (latest.at, latest.listing_id) < ($3::timestamptz, $4::uuid)
           ORDER BY latest.at DESC, latest.listing_id DESC LIMIT $5""",
        code,
        severity,
        after_at,
        after_id,
        limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    flags = await db.fetch(
        """SELECT * FROM risk_flags WHERE listing_id = ANY($1::uuid[]) AND cleared_at IS NULL
           ORDER BY raised_at DESC, id DESC""",
        [r["listing_id"] for r in page],
    )
    by_listing: dict[uuid.UUID, list[RiskFlagRead]] = {}
    for f in flags:
        by_listing.setdefault(f["listing_id"], []).append(_flag(f))
    items = [
        FlaggedListing(
            listing_id=r["listing_id"],
            manufacturer=r["manufacturer"],
            model=r["model"],
            year_manufactured=r["year_manufactured"],
            status=r["status"],
            seller_id=r["seller"],
            flags=by_listing.get(r["listing_id"], []),
        )
        for r in page
    ]
    next_cursor = encode_cursor([page[-1]["at"].isoformat(), str(page[-1]["listing_id"])]) if more else None
    return Page(items=items, next_cursor=next_cursor)

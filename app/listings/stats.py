"""What a seller sees about their listing: views, the current hold, the length of the line.

Views are counted in Redis (an INCR and a HyperLogLog PFADD per listing), never in PostgreSQL: the
hottest read path stays free of writes. The web process gathers the views of `GET /api/listings/{id}`
in memory and writes them in one pipeline every `FLUSH_INTERVAL_S` (bench/http_api.py: a Redis round trip
per view was a tenth of that request's CPU); the stats readers of the same process flush first, so a
seller sees their own process's views at once and the others' within the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core import db
from app.core.errors import NotFound
from app.listings import policy, service, watchlist
from app.listings.schemas import ListingRead, ListingStats

log = logging.getLogger("atp.listings.stats")


def _views_key(listing_id: uuid.UUID) -> str:
    return f"atp:listing:{listing_id}:views"


def _viewers_key(listing_id: uuid.UUID) -> str:
    return f"atp:listing:{listing_id}:viewers"


FLUSH_INTERVAL_S = 0.5
# Past this many listings with unwritten views the flush does not wait for its interval.
EAGER_FLUSH_LISTINGS = 1000


class ViewCounter:
    """The views one web process has seen and not yet written to Redis."""

    def __init__(self) -> None:
        self._views: dict[uuid.UUID, int] = {}
        self._viewers: dict[uuid.UUID, set[tuple[Principal | None, str | None]]] = {}
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()

    def count(self, listing: ListingRead, viewer: Principal | None, client_host: str | None) -> None:
        """Count one view (the owner's own looks excluded)."""
        if viewer is not None and viewer.user_id == listing.seller_id:
            return
        listing_id = listing.id
        self._views[listing_id] = self._views.get(listing_id, 0) + 1
        who = (viewer.user_id, None) if viewer is not None else (None, client_host)
        self._viewers.setdefault(listing_id, set()).add(who)  # type: ignore[arg-type]
        if len(self._views) >= EAGER_FLUSH_LISTINGS:
            self._full.set()

    async def flush(self, redis: Redis) -> None:
        """Write the gathered views in one pipeline; a Redis hiccup drops them, never fails a request."""
        async with self._lock:
            views, viewers = self._views, self._viewers
            self._views, self._viewers = {}, {}
            self._full.clear()
            if not views:
                return
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for listing_id, n in views.items():
                        pipe.incrby(_views_key(listing_id), n)
                        tags = [_tag(user_id, host) for user_id, host in viewers.get(listing_id, ())]
                        pipe.pfadd(_viewers_key(listing_id), *tags)
                    await pipe.execute()
            except Exception:
                log.warning("could not count %d views of %d listings", sum(views.values()), len(views))

    async def run(self, redis: Redis) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), FLUSH_INTERVAL_S)
            await self.flush(redis)


def _tag(user_id: uuid.UUID | None, client_host: str | None) -> str:
    """Who looked, for unique counts: the user, else a hash of the client address (never stored raw)."""
    if user_id is not None:
        return f"u:{user_id}"
    return "a:" + hashlib.sha256((client_host or "?").encode()).hexdigest()[:16]


VIEWS = ViewCounter()


@contextlib.asynccontextmanager
async def view_counting(redis: Redis) -> AsyncIterator[ViewCounter]:
    """The web process's view counter: flushed in the background, and once more at shutdown."""
    task = asyncio.create_task(VIEWS.run(redis), name="listing-views")
    try:
        yield VIEWS
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await VIEWS.flush(redis)


async def listing_stats(principal: Principal, listing_id: uuid.UUID, *, redis: Redis) -> ListingStats:
    """Views, unique viewers, the active hold and the waitlist length (owner or admin)."""
    listing = await db.fetchrow("SELECT * FROM listings WHERE id = $1", listing_id)
    if listing is None or not policy.may_read_row(listing, principal):
        raise NotFound("listing not found")
    service._actor(principal, listing)  # 403 unless owner or admin
    await VIEWS.flush(redis)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(_views_key(listing_id))
        pipe.pfcount(_viewers_key(listing_id))
        views, unique = await pipe.execute()
    holds = await service._active_holds([listing_id])
    waiting = await db.fetchrow(
        "SELECT count(*) AS n FROM listing_waitlist WHERE listing = $1 AND status = 'waiting'", listing_id
    )
    watching = await watchlist.watchers([listing_id])
    return ListingStats(
        views=int(views or 0),
        unique_viewers=int(unique or 0),
        active_hold=holds.get(listing_id),
        waitlist_length=waiting["n"] if waiting else 0,
        watchers=watching.get(listing_id, 0),
    )


MAX_BATCH = 100


async def listing_stats_many(
    principal: Principal, listing_ids: list[uuid.UUID], *, redis: Redis
) -> dict[str, ListingStats]:
    """Stats of many listings in four round trips (the seller's overview); ids the caller may not see
    or manage are left out rather than failing the whole answer."""
    ids = list(dict.fromkeys(listing_ids))[:MAX_BATCH]
    if not ids:
        return {}
    rows = await db.fetch("SELECT * FROM listings WHERE id = ANY($1::uuid[])", ids)
    mine: list[uuid.UUID] = []
    for row in rows:
        if not policy.may_read_row(row, principal):
            continue
        try:
            service._actor(principal, row)
        except Exception:  # Forbidden: not the owner and not an admin
            continue
        mine.append(row["id"])
    if not mine:
        return {}
    await VIEWS.flush(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for listing_id in mine:
            pipe.get(_views_key(listing_id))
            pipe.pfcount(_viewers_key(listing_id))
        counts = await pipe.execute()
    holds = await service._active_holds(mine)
    waiting = await db.fetch(
        "SELECT listing, count(*) AS n FROM listing_waitlist"
        " WHERE listing = ANY($1::uuid[]) AND status = 'waiting' GROUP BY listing",
        mine,
    )
    lines = {row["listing"]: row["n"] for row in waiting}
    watching = await watchlist.watchers(mine)
    return {
        str(listing_id): ListingStats(
            views=int(counts[2 * i] or 0),
            unique_viewers=int(counts[2 * i + 1] or 0),
            active_hold=holds.get(listing_id),
            waitlist_length=lines.get(listing_id, 0),
            watchers=watching.get(listing_id, 0),
        )
        for i, listing_id in enumerate(mine)
    }


CHECK_LABELS = {
    "registry": "Registration matches the FAA aircraft registry",
    "sanctions": "Owner and aircraft screened against sanctions lists",
    "documents": "Ownership and airworthiness documents reviewed",
    "bank": "Seller's bank account confirmed",
}


async def listing_verification(listing_id: uuid.UUID, reader: Principal | None) -> dict:
    """What was verified about a listing's aircraft and when: the approved aircraft case's passed checks."""
    listing = await db.fetchrow("SELECT id, status, seller, verified FROM listings WHERE id = $1", listing_id)
    if listing is None or not policy.may_read_row(listing, reader):
        raise NotFound("listing not found")
    case = await db.fetchrow(
        """SELECT id, decided_at, tail_number FROM verification_cases
           WHERE listing_id = $1 AND verification_type = 'aircraft' AND status = 'approved'
           ORDER BY decided_at DESC NULLS LAST LIMIT 1""",
        listing_id,
    )
    checks = []
    if case is not None:
        rows = await db.fetch(
            """SELECT name, finished_at FROM verification_checks
               WHERE case_id = $1 AND status = 'passed' ORDER BY finished_at""",
            case["id"],
        )
        checks = [
            {
                "check": row["name"],
                "label": CHECK_LABELS.get(row["name"], row["name"].replace("_", " ").capitalize()),
                "passedAt": row["finished_at"].isoformat() if row["finished_at"] else None,
            }
            for row in rows
        ]
    return {
        "verified": bool(listing["verified"]),
        "verifiedAt": case["decided_at"].isoformat() if case and case["decided_at"] else None,
        "tailNumber": case["tail_number"] if case else None,
        "checks": checks,
    }

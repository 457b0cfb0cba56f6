"""Subscriptions: the `/ws` channels `listing:<id>` and `listings` seen through GraphQL.

A subscription is one more subscriber of the process's fan-out hub (realtime/fanout.py), so it gets
the same frames as a `/ws` socket, in the same order and as fast: the same read check at subscribe
(`channels.can_read`, with the listings domain's rule), the same replay after `since` and the same
`reset` when history has a gap, which ends the subscription with the error `history_gap` (re-read the
state with a query, then subscribe again without `since`). A revoked session ends it too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from graphql import GraphQLError

from app.core.errors import AppError, Forbidden
from app.graphql.inputs import AircraftFilter, listing_filters
from app.graphql.limits import problem_error
from app.graphql.types import AircraftListing, ListingEvent
from app.listings.policy import GONE_EVENT
from app.listings.schemas import ListingRead
from app.listings.service import ListingFilters
from realtime import channels, protocol
from realtime.connection import Connection, Frame, Limits, Session
from realtime.fanout import Unavailable
from realtime.runtime import Realtime


class _Ended:
    def __init__(self, code: str, detail: str) -> None:
        self.code, self.detail = code, detail


class SubscriptionConnection(Connection):
    """A fan-out subscriber whose frames go to a GraphQL subscription instead of a socket."""

    __slots__ = ("_bytes", "_queue")

    def __init__(self, limits: Limits, session: Session | None, on_lag) -> None:
        super().__init__(None, limits, session, on_lag)
        self._queue: asyncio.Queue[bytes | _Ended] = asyncio.Queue()
        self._bytes = 0

    def _push(self, frame: Frame) -> None:
        self._bytes += len(frame.payload)
        self._queue.put_nowait(frame.payload)

    def buffered(self) -> int:
        return self._bytes

    async def next(self) -> bytes | _Ended:
        item = await self._queue.get()
        if isinstance(item, bytes):
            self._bytes -= len(item)
        return item

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        ended = (
            ("session_ended", "the session was revoked")
            if code == protocol.CLOSE_SESSION_ENDED
            else ("slow_consumer", "events arrived faster than they were read")
            if code == protocol.CLOSE_SLOW_CONSUMER
            else ("unavailable", reason or "the server is going away")
        )
        self._queue.put_nowait(_Ended(*ended))


class _Frame(msgspec.Struct):
    op: str
    channel: str = ""
    seq: int = 0
    id: uuid.UUID | None = None
    type: str = ""
    occurredAt: datetime | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    reason: str = ""
    code: str = ""
    detail: str = ""


_decode = msgspec.json.Decoder(_Frame).decode


def _error(code: str, detail: str, **extra: Any) -> GraphQLError:
    return GraphQLError(detail, extensions={"code": code, **extra})


def _snapshot(data: dict) -> ListingRead | None:
    raw = data.get("listing")
    if not isinstance(raw, dict):
        return None
    try:
        return msgspec.convert(raw, ListingRead, strict=False)
    except msgspec.ValidationError:
        return None


def _matches(listing: ListingRead, f: ListingFilters) -> bool:
    """The `GET /api/listings` filter applied to one listing as an event shows it."""
    checks = (
        f.manufacturer is None or listing.manufacturer.lower() == f.manufacturer.lower(),
        f.model is None or listing.model.lower() == f.model.lower(),
        f.year_min is None or listing.year_manufactured >= f.year_min,
        f.year_max is None or listing.year_manufactured <= f.year_max,
        f.price_min is None or Decimal(listing.price) >= f.price_min,
        f.price_max is None or Decimal(listing.price) <= f.price_max,
        f.hours_max is None or listing.hours_total <= f.hours_max,
        f.country is None or listing.location_country == f.country,
        f.statuses is None or listing.status in f.statuses,
        f.seller_id is None or listing.seller_id == f.seller_id,
    )
    return all(checks)


async def listing_events(
    info,
    reader,
    session: Session | None,
    channel: str,
    since: int | None,
    feed_filter: AircraftFilter | None = None,
) -> AsyncGenerator[ListingEvent, None]:
    """The events of `channel` after `since` (or from now), then live, until the client leaves."""
    rt: Realtime = info.context.state.realtime
    filters = listing_filters(feed_filter, "newest") if feed_filter is not None else None
    if since is not None and since < 0:
        raise _error("bad_request", "since must be >= 0")
    try:
        allowed = await channels.can_read(
            reader,
            channel,
            verification_subject=rt.verification_subject,
            listing_access=rt.listing_access,
            thread_member=rt.thread_member,
        )
    except AppError as exc:
        raise problem_error(exc) from None
    if not allowed:
        raise problem_error(Forbidden("you may not read this listing's events"))
    conn = SubscriptionConnection(rt.config.limits, session, rt.hub.on_lag)
    rt.connections.add(conn)
    matched: set[str] = set()  # listings of the feed that matched the filter: their later events follow
    try:
        try:
            await rt.hub.subscribe(conn, channel, since)
        except Unavailable:
            raise _error("unavailable", "try again shortly") from None
        while True:
            item = await conn.next()
            if isinstance(item, _Ended):
                raise _error(item.code, item.detail)
            frame = _decode(item)
            if frame.op == "reset":
                raise _error(
                    protocol.RESET_HISTORY_GAP
                    if frame.reason == protocol.RESET_HISTORY_GAP
                    else frame.reason,
                    "events after your `since` are no longer all available: re-read the listing(s) with a "
                    "query, then subscribe again without `since`",
                    channel=frame.channel,
                    seq=frame.seq,
                    reason=frame.reason,
                )
            if frame.op != "event":
                continue
            data = msgspec.json.decode(frame.data)
            if not isinstance(data, dict):
                data = {}
            listing_id = data.get("listingId")
            snapshot = _snapshot(data)
            if filters is not None:
                if snapshot is not None:
                    if _matches(snapshot, filters):
                        matched.add(str(snapshot.id))
                    else:
                        matched.discard(str(snapshot.id))
                        continue
                elif listing_id not in matched:
                    continue
                elif frame.type == GONE_EVENT:
                    matched.discard(listing_id)
            if info.context.loaders is not None:
                info.context.loaders.clear()
            yield ListingEvent(
                channel=frame.channel,
                seq=frame.seq,
                id=str(frame.id),
                type=frame.type,
                occurred_at=frame.occurredAt,  # type: ignore[arg-type]
                listing_id=listing_id,
                data=data,
                listing=AircraftListing.of(snapshot) if snapshot is not None else None,
            )
    finally:
        rt.hub.disconnect(conn)
        rt.connections.discard(conn)

"""Who may read a listing, and so who may read its events: REST, `/ws` and webhooks all ask here.

One rule: a listing in a public status is readable by anyone; a hidden one (draft, suspended,
withdrawn) only by its seller (the user who listed it, a seller or a broker) and admins. Events
follow the object: a change to a public listing goes to the public channels, a change to a hidden
one only to the seller's `user:` channel and `admin`. When a listing leaves public view, the public
channels get just the status change (no listing data) and nothing after; when it becomes public,
they get the status change and the full listing, which is all a subscriber who never saw it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Protocol

import msgspec

from app.core import db
from app.listings.state import Status
from realtime import channels

# Statuses only the seller side and admins may read (REST answers 404 to anyone else).
HIDDEN = frozenset({Status.DRAFT, Status.SUSPENDED, Status.WITHDRAWN})

# The one event a public subscriber still gets when a listing leaves public view: it names no data.
GONE_EVENT = "listing.status_changed"


class Reader(Protocol):
    """A caller (Principal, or a socket's Session): who they are and whether they are an admin."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def is_admin(self) -> bool: ...


def is_public(status: str) -> bool:
    """Whether anyone, signed in or not, may read a listing in `status`."""
    return status not in HIDDEN


def may_read(status: str, seller_id: uuid.UUID, reader: Reader | None) -> bool:
    """Whether `reader` (None = anonymous) may read a listing in `status` listed by `seller_id`."""
    if is_public(status):
        return True
    return reader is not None and (reader.is_admin or reader.user_id == seller_id)


def may_read_row(row: Any, reader: Reader | None) -> bool:
    """`may_read` for a `listings` row."""
    return may_read(row["status"], row["seller"], reader)


def readable_statuses(statuses: Iterable[str], reader: Reader | None, *, own: bool) -> list[str]:
    """The statuses of `statuses` a list may show `reader`; `own` when it lists only their listings."""
    if own or (reader is not None and reader.is_admin):
        return list(statuses)
    return [s for s in statuses if is_public(s)]


# --- events -------------------------------------------------------------------------------------


def seller_side(seller_id: uuid.UUID) -> list[str]:
    """The channels of those who may always read the listing: its seller and admins."""
    return [channels.user(seller_id), channels.admin()]


class Targets:
    """Where the events of one listing change go: `full` for every event, `gone` for the status only."""

    __slots__ = ("full", "gone")

    def __init__(self, full: list[str], gone: list[str]) -> None:
        self.full, self.gone = full, gone

    def of(self, event_type: str) -> list[str]:
        return [*self.full, *self.gone] if event_type == GONE_EVENT else self.full


def targets(listing_id: uuid.UUID, seller_id: uuid.UUID, before: str | None, after: str) -> Targets:
    """Channels for the events of a change from status `before` (None = new) to `after`."""
    public = channels.listing_channels(listing_id)
    was, now = before is not None and is_public(before), is_public(after)
    if now and was:
        return Targets(public, [])
    if now:  # published: the public learns of it, the seller side sees the step too
        return Targets([*public, *seller_side(seller_id)], [])
    if was:  # leaving public view: the public hears only that it is gone
        return Targets(seller_side(seller_id), public)
    return Targets(seller_side(seller_id), [])


# --- readers that check the current state ------------------------------------------------------


class _About(msgspec.Struct):
    listing_id: str | None = msgspec.field(default=None, name="listingId")


class _Frame(msgspec.Struct):
    type: str = ""
    data: _About = msgspec.field(default_factory=_About)


_frame_decoder = msgspec.json.Decoder(_Frame)


class ReplayGuard:
    """`/ws` replay of the `listings` feed: events retained from when a listing was public may be
    replayed only to those who may read it now; otherwise the subscriber gets `reset` (re-fetch over
    REST), never a partial replay. The status change that took it out of view names no data."""

    async def __call__(self, reader: Reader | None, channel: str, frames: list[bytes]) -> bool:
        if channel != channels.listings_feed():
            return True  # listing:<id> is checked at subscribe; user:, verification:, admin are private
        ids: set[uuid.UUID] = set()
        for raw in frames:
            frame = _frame_decoder.decode(raw)
            if frame.type != GONE_EVENT and frame.data.listing_id:
                ids.add(uuid.UUID(frame.data.listing_id))
        if not ids:
            return True
        rows = await db.fetch(
            "SELECT status, seller FROM listings WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])",
            list(ids),
            [s.value for s in HIDDEN],
        )
        return all(may_read_row(row, reader) for row in rows)


class ListingAccess:
    """`listing:<id>` channel authorization: may this reader read the listing now (not cached)."""

    async def __call__(self, reader: Reader | None, listing_id: uuid.UUID) -> bool:
        row = await db.fetchrow("SELECT status, seller FROM listings WHERE id = $1", listing_id)
        # No such listing: its channel carries nothing, so there is nothing to hide.
        return row is None or may_read_row(row, reader)


async def hidden_now(conn, listing_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Of `listing_ids`, those that are not public at this moment."""
    ids = list(set(listing_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        "SELECT id FROM listings WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])",
        ids,
        [s.value for s in HIDDEN],
    )
    return {r["id"] for r in rows}


def hold_targets(
    listing_id: uuid.UUID, seller_id: uuid.UUID, status: str, holder_id: uuid.UUID
) -> tuple[list[str], list[str]]:
    """(public, private) channels for a hold's events: whoever may read the listing learns that a
    hold exists and until when; who holds it only the holder, the seller side and admins."""
    public = channels.listing_channels(listing_id) if is_public(status) else []
    private = list(dict.fromkeys([channels.user(holder_id), *seller_side(seller_id)]))
    return public, private

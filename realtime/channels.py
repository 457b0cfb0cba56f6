"""Channel names: the only place they are built and parsed, and who may read each one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import msgspec

LISTINGS = "listings"
ADMIN = "admin"

# Prefixes of channels that name one object; the suffix is a canonical (lower-case) UUID.
LISTING = "listing"
USER = "user"
VERIFICATION = "verification"
THREAD = "thread"
_SCOPED = frozenset({LISTING, USER, VERIFICATION, THREAD})
_PUBLIC_KINDS = frozenset({LISTINGS, LISTING})

MAX_CHANNEL_LENGTH = 200  # outbox_events.channel is varchar(200)


def listings_feed() -> str:
    """The public feed of every listing change."""
    return LISTINGS


def listing(listing_id: uuid.UUID | str) -> str:
    """The public channel of one listing."""
    return f"{LISTING}:{_canonical(listing_id)}"


def user(user_id: uuid.UUID | str) -> str:
    """The private channel of one user (notifications, holds, reservations, messages)."""
    return f"{USER}:{_canonical(user_id)}"


def verification(verification_id: uuid.UUID | str) -> str:
    """The channel of one verification case (its subject and admins)."""
    return f"{VERIFICATION}:{_canonical(verification_id)}"


def thread(thread_id: uuid.UUID | str) -> str:
    """The channel of one message thread (its participants and admins)."""
    return f"{THREAD}:{_canonical(thread_id)}"


def thread_channels(thread_id: uuid.UUID | str, participant_ids: Iterable[uuid.UUID]) -> list[str]:
    """Where a message is published: the thread's channel and each participant's own channel."""
    return [thread(thread_id), *(user(p) for p in participant_ids)]


def admin() -> str:
    """The admins' channel."""
    return ADMIN


def listing_channels(listing_id: uuid.UUID | str) -> list[str]:
    """Where a listing change is published: the feed and the listing's own channel."""
    return [listings_feed(), listing(listing_id)]


def _canonical(value: uuid.UUID | str) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


class ChannelName(msgspec.Struct, frozen=True):
    """A parsed channel name: its kind and, for per-object channels, the object id."""

    kind: str
    object_id: uuid.UUID | None = None

    @property
    def is_public(self) -> bool:
        return self.kind in _PUBLIC_KINDS


def parse(channel: str) -> ChannelName | None:
    """The parsed name, or None when `channel` is not a channel we serve (ids must be canonical)."""
    if not isinstance(channel, str) or len(channel) > MAX_CHANNEL_LENGTH:
        return None
    if channel in (LISTINGS, ADMIN):
        return ChannelName(channel)
    kind, sep, rest = channel.partition(":")
    if not sep or kind not in _SCOPED:
        return None
    try:
        object_id = uuid.UUID(rest)
    except ValueError:
        return None
    # One spelling per channel: otherwise `listing:ABC…` and `listing:abc…` would be two logs.
    if str(object_id) != rest:
        return None
    return ChannelName(kind, object_id)


class Reader(Protocol):
    """What authorization needs to know about a caller (the app's Principal satisfies it)."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def is_admin(self) -> bool: ...


# Resolves a verification case to the user it is about (None when unknown).
SubjectLookup = Callable[[uuid.UUID], Awaitable[uuid.UUID | None]]
# Whether a reader (None = anonymous) may read one listing now: the listings domain's rule.
ListingAccess = Callable[[Reader | None, uuid.UUID], Awaitable[bool]]
# Whether a user takes part in a message thread: (thread id, user id) -> bool.
MemberLookup = Callable[[uuid.UUID, uuid.UUID], Awaitable[bool]]


async def can_read(
    reader: Reader | None,
    channel: str,
    *,
    verification_subject: SubjectLookup | None = None,
    listing_access: ListingAccess | None = None,
    thread_member: MemberLookup | None = None,
) -> bool:
    """Whether `reader` (None = anonymous) may subscribe to `channel`; deny by default."""
    name = parse(channel)
    if name is None:
        return False
    if name.kind == LISTING and listing_access is not None:
        # A public channel, but of one object: only while its reader may read that object.
        assert name.object_id is not None
        return await listing_access(reader, name.object_id)
    if name.is_public:
        return True
    if reader is None:
        return False
    if reader.is_admin:
        return True
    if name.kind == USER:
        return name.object_id == reader.user_id
    if name.kind == VERIFICATION and verification_subject is not None:
        assert name.object_id is not None
        return await verification_subject(name.object_id) == reader.user_id
    if name.kind == THREAD and thread_member is not None:
        assert name.object_id is not None
        return await thread_member(name.object_id, reader.user_id)
    return False

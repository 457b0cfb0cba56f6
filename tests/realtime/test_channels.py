"""Channel names and who may read them (pure logic)."""

from __future__ import annotations

import uuid

import msgspec

from realtime import channels


class Reader(msgspec.Struct):
    user_id: uuid.UUID
    is_admin: bool = False


def test_names_are_built_in_one_canonical_spelling():
    listing_id = uuid.uuid4()
    assert channels.listings_feed() == "listings"
    assert channels.admin() == "admin"
    assert channels.listing(listing_id) == f"listing:{listing_id}"
    assert channels.listing(str(listing_id).upper()) == f"listing:{listing_id}"
    assert channels.user(listing_id) == f"user:{listing_id}"
    assert channels.verification(listing_id) == f"verification:{listing_id}"
    assert channels.listing_channels(listing_id) == ["listings", f"listing:{listing_id}"]


def test_parse_accepts_only_channels_we_serve():
    some = uuid.uuid4()
    assert channels.parse(f"listing:{some}") == channels.ChannelName("listing", some)
    assert channels.parse("listings") == channels.ChannelName("listings")
    for bad in (
        "",
        "listing",
        "listing:",
        "listing:42",
        f"listing:{str(some).upper()}",
        f"user:{some}:x",
        f"orders:{some}",
        "admin:x",
        "Listings",
        "x" * 500,
        f" listing:{some}",
    ):
        assert channels.parse(bad) is None, bad


async def test_can_read_denies_by_default():
    me, other, case = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reader, admin = Reader(me), Reader(other, is_admin=True)

    async def subject(verification_id: uuid.UUID) -> uuid.UUID | None:
        return me if verification_id == case else None

    public = [channels.listings_feed(), channels.listing(uuid.uuid4())]
    for channel in public:
        assert await channels.can_read(None, channel)
        assert await channels.can_read(reader, channel)
    assert await channels.can_read(reader, channels.user(me))
    assert not await channels.can_read(reader, channels.user(other))
    assert not await channels.can_read(None, channels.user(me))
    assert not await channels.can_read(reader, channels.admin())
    assert not await channels.can_read(reader, channels.verification(case))  # no lookup: admins only
    assert await channels.can_read(reader, channels.verification(case), verification_subject=subject)
    assert not await channels.can_read(
        reader, channels.verification(uuid.uuid4()), verification_subject=subject
    )
    for channel in (channels.admin(), channels.user(me), channels.verification(case)):
        assert await channels.can_read(admin, channel)
    assert not await channels.can_read(admin, "nonsense")

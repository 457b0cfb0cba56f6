"""HTTP endpoints around a listing that its page and its seller need: photos, price history, stats."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import Page
from app.core.storage import storage_for
from app.listings import photos, prices, stats
from app.listings.schemas import ListingStats, PhotoRead, PhotoUpload, PriceHistory
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]

# The hard ceiling of one upload request body; ATP_PHOTO_MAX_BYTES (default 15 MB) is enforced below it.
PHOTO_REQUEST_CAP = 64 * 1024 * 1024
# Multipart boundaries and part headers around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024


async def _refuse_oversized_upload(request: Request) -> None:
    """413 from Content-Length alone, before a byte of an oversized body is read."""
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.photo_max_bytes + _MULTIPART_OVERHEAD:
        raise photos.PhotoTooBig(f"a photo may be at most {settings.photo_max_bytes:,} bytes")


class ListingDetailController(Controller):
    path = "/api/listings"
    tags = ["listings"]

    @post(
        "/{listing_id:uuid}/photos",
        security=SECURED,
        status_code=201,
        summary="Upload a photo (owner or admin; JPEG, PNG or WebP; thumbnails follow from a worker)",
        request_max_body_size=PHOTO_REQUEST_CAP,
        before_request=_refuse_oversized_upload,
    )
    async def upload_photo(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        listing_id: FromPath[uuid.UUID],
        data: Annotated[PhotoUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> PhotoRead:
        content = await data.file.read()
        photo = await photos.upload_photo(
            principal,
            listing_id,
            content,
            storage=storage_for(settings),
            max_bytes=settings.photo_max_bytes,
        )
        await photos.enqueue_processing(redis, photo.id)
        return photo

    @get("/{listing_id:uuid}/photos", summary="A listing's photos in upload order")
    async def list_photos(
        self, listing_id: FromPath[uuid.UUID], maybe_principal: NamedDependency[Principal | None]
    ) -> Page[PhotoRead]:
        return Page(items=await photos.list_photos(listing_id, maybe_principal), next_cursor=None)

    @delete("/{listing_id:uuid}/photos/{photo_id:uuid}", security=SECURED, summary="Remove a photo")
    async def delete_photo(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        listing_id: FromPath[uuid.UUID],
        photo_id: FromPath[uuid.UUID],
    ) -> None:
        await photos.delete_photo(principal, listing_id, photo_id, storage=storage_for(settings))

    @get("/{listing_id:uuid}/price-history", summary="The listing's prices over time, oldest first")
    async def price_history(
        self, listing_id: FromPath[uuid.UUID], maybe_principal: NamedDependency[Principal | None]
    ) -> PriceHistory:
        return await prices.price_history(listing_id, maybe_principal)

    @get(
        "/stats", security=SECURED, summary="Stats of many listings at once (owner or admin; others left out)"
    )
    async def listings_stats(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        ids: Annotated[list[uuid.UUID], QueryParameter(description="listing ids, at most 100")],
    ) -> dict[str, ListingStats]:
        if len(ids) > stats.MAX_BATCH:
            raise ValidationFailed(f"at most {stats.MAX_BATCH} ids")
        return await stats.listing_stats_many(principal, ids, redis=redis)

    @get("/{listing_id:uuid}/verification", summary="What was verified about the aircraft, and when")
    async def listing_verification(
        self, listing_id: FromPath[uuid.UUID], maybe_principal: NamedDependency[Principal | None]
    ) -> dict[str, object]:
        return await stats.listing_verification(listing_id, maybe_principal)

    @get("/{listing_id:uuid}/stats", security=SECURED, summary="Views, hold and waitlist (owner or admin)")
    async def listing_stats(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        listing_id: FromPath[uuid.UUID],
    ) -> ListingStats:
        return await stats.listing_stats(principal, listing_id, redis=redis)

"""Photo renditions: one job per uploaded photo, plus a cron that retries photos whose job was lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app.core.storage import storage_for
from app.listings import photos
from app.settings import get_settings

STUCK_AFTER_S = 120
RETRY_BATCH = 20
# Renditions are CPU work. A burst of uploads must not take every core and job slot from the jobs
# that have a deadline (hold expiry within 5 s): at most this many render at once per worker.
_RENDERING = asyncio.Semaphore(2)


async def process_listing_photo(ctx: dict[str, Any], photo_id: str) -> str:
    """Make a photo's thumbnails and publish it on its listing (idempotent: a rerun changes nothing)."""
    async with _RENDERING:
        return await photos.process_photo(uuid.UUID(photo_id), storage=storage_for(get_settings()))


async def retry_stuck_photos(ctx: dict[str, Any]) -> int:
    """Process photos still `processing` long after upload (queue lost the job, worker died mid-way)."""
    storage = storage_for(get_settings())
    stuck = await photos.stuck_photos(STUCK_AFTER_S, RETRY_BATCH)
    for photo_id in stuck:
        async with _RENDERING:
            await photos.process_photo(photo_id, storage=storage)
    return len(stuck)

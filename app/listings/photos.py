"""Listing photos: upload (checked by magic bytes and decoded), worker-made renditions, delete, serving rules.

Privacy: the original upload may carry EXIF (GPS position, camera serial), so only its owner and
admins can fetch it. Everyone else sees the worker's renditions, which are re-encoded without
metadata: `thumb.webp` (fits 320 px) and `large.webp` (fits 1024 px).

A photo enters the listing's `images` (and a `listing.updated` with `changed: ["photos"]` goes out)
only when its renditions exist, so a watcher never receives a link that does not work yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import threading
import uuid
import warnings
from collections import OrderedDict

import msgspec
from arq.connections import ArqRedis
from PIL import Image, ImageOps, UnidentifiedImageError
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core import db, tracing
from app.core.db import UnitOfWork
from app.core.errors import AppError, Conflict, NotFound
from app.core.storage import Storage as MediaStorage
from app.listings import policy, service
from app.listings.schemas import PhotoRead, listing_read

log = logging.getLogger("atp.listings.photos")

MAX_PHOTOS_PER_LISTING = 30
# Far above any camera, far below what would exhaust a worker's memory when decoded (4 bytes/pixel).
MAX_PIXELS = 60_000_000
RENDITIONS = {"thumb": 320, "large": 1024}
JOB_NAME = "process_listing_photo"

# The first bytes decide the type; the declared content type and file name are ignored.
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


class UnsupportedImage(AppError):
    status, code, title = 415, "unsupported_image", "Not a JPEG, PNG or WebP image"


class ImageTooLarge(AppError):
    status, code, title = 422, "image_too_large", "Image dimensions too large"


class PhotoTooBig(AppError):
    status, code, title = 413, "payload_too_large", "Photo too large"


class TooManyPhotos(Conflict):
    code, title = "too_many_photos", "Photo limit reached"


def sniff(data: bytes) -> str | None:
    """The image type named by the file's magic bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _open(data: bytes, content_type: str) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse at our own limit below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[content_type]])
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageTooLarge(f"{width}x{height} is more than {MAX_PIXELS:,} pixels")
    return image


class _RecentResults:
    """What the last few distinct files gave, by content hash: the same bytes uploaded again (a re-upload,
    demo data reusing a few pictures) are decoded and rendered once per process. Results are pure functions
    of the bytes, so a hit is exactly what the work would have produced."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, bytes], object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, kind: str, data: bytes, make):
        key = (kind, hashlib.sha256(data).digest())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_recent = _RecentResults(64)


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a fully decodable JPEG/PNG/WebP, as displayed (EXIF-rotated)."""
    return _recent.get_or_make("inspect", data, lambda: _inspect_image(data))


def _inspect_image(data: bytes) -> tuple[str, int, int]:
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedImage("the file is not a JPEG, PNG or WebP image")
    try:
        with _open(data, content_type) as image:
            image.load()
            width, height = ImageOps.exif_transpose(image).size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise UnsupportedImage("the image is damaged or cannot be decoded") from None
    return content_type, width, height


def render_renditions(data: bytes, content_type: str) -> dict[str, bytes]:
    """WebP renditions, upright and without metadata, each fitting its box (never enlarged)."""
    return _recent.get_or_make("render", data, lambda: _render_renditions(data, content_type))


def _render_renditions(data: bytes, content_type: str) -> dict[str, bytes]:
    with _open(data, content_type) as opened:
        if content_type == "image/jpeg":
            # Let libjpeg decode at a reduced scale (still at least twice the largest box): 3-5x faster.
            largest = 2 * max(RENDITIONS.values())
            opened.draft("RGB", (largest, largest))
        upright = ImageOps.exif_transpose(opened)
        mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
        base = upright.convert(mode)
    out: dict[str, bytes] = {}
    for name, box in RENDITIONS.items():
        copy = base.copy()
        copy.thumbnail((box, box), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        copy.save(buffer, format="WEBP", quality=82, method=4)
        out[name] = buffer.getvalue()
    return out


def media_url(key: str) -> str:
    """Where the web app serves a stored media file (app.media.controllers)."""
    return f"/media/{key}"


def _keys(listing_id: uuid.UUID, photo_id: uuid.UUID) -> str:
    return f"listings/{listing_id}/{photo_id}"


def _photo_read(row) -> PhotoRead:
    large = media_url(row["large_key"]) if row["large_key"] else None
    return PhotoRead(
        id=row["id"],
        listing_id=row["listing"],
        status=row["status"],
        url=large or media_url(row["original_key"]),
        thumbnail_url=media_url(row["thumbnail_key"]) if row["thumbnail_key"] else None,
        large_url=large,
        width=row["width"],
        height=row["height"],
        content_type=row["content_type"],
        created_at=row["created_at"],
    )


async def _locked_listing_for_change(uow: UnitOfWork, principal: Principal, listing_id: uuid.UUID):
    row = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1 FOR UPDATE", listing_id)
    if row is None or not policy.may_read_row(row, principal):
        raise NotFound("listing not found")
    service._actor(principal, row)  # 403 unless owner or admin
    return row


async def upload_photo(
    principal: Principal, listing_id: uuid.UUID, data: bytes, *, storage: MediaStorage, max_bytes: int
) -> PhotoRead:
    """Store an original (owner or admin); the worker makes its renditions. At most 30 per listing."""
    if len(data) > max_bytes:
        raise PhotoTooBig(f"a photo may be at most {max_bytes:,} bytes")
    content_type, width, height = await asyncio.to_thread(inspect_image, data)
    photo_id = uuid.uuid4()
    key = f"{_keys(listing_id, photo_id)}/original.{_EXTENSIONS[content_type]}"
    written = False
    try:
        async with UnitOfWork() as uow:
            await _locked_listing_for_change(uow, principal, listing_id)
            # The listing row lock serialises uploads to one listing, so the count is exact.
            count = await uow.conn.fetchval(
                "SELECT count(*) FROM listing_photos WHERE listing = $1", listing_id
            )
            if count >= MAX_PHOTOS_PER_LISTING:
                raise TooManyPhotos(f"a listing has at most {MAX_PHOTOS_PER_LISTING} photos")
            row = await uow.conn.fetchrow(
                """INSERT INTO listing_photos (id, listing, status, content_type, original_key, width, height,
                       byte_size, uploaded_by, created_at)
                   VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8, now()) RETURNING *""",
                photo_id,
                listing_id,
                content_type,
                key,
                width,
                height,
                len(data),
                principal.user_id,
            )
            await storage.put(key, data)
            written = True
    except BaseException:
        if written:
            await storage.delete(key)
        raise
    return _photo_read(row)


async def list_photos(listing_id: uuid.UUID, viewer: Principal | None) -> list[PhotoRead]:
    """Photos in upload order; unfinished and failed ones only for the owner and admins."""
    listing = await db.fetchrow("SELECT id, seller, status FROM listings WHERE id = $1", listing_id)
    if listing is None or not policy.may_read_row(listing, viewer):
        raise NotFound("listing not found")
    rows = await db.fetch(
        "SELECT * FROM listing_photos WHERE listing = $1 ORDER BY created_at, id", listing_id
    )
    if not _may_manage(listing, viewer):
        rows = [r for r in rows if r["status"] == "ready"]
    return [_photo_read(r) for r in rows]


def _may_manage(listing, viewer: Principal | None) -> bool:
    return viewer is not None and (
        viewer.user_id == listing["seller"] or "listings:manage_any" in viewer.permissions
    )


async def delete_photo(
    principal: Principal, listing_id: uuid.UUID, photo_id: uuid.UUID, *, storage: MediaStorage
) -> None:
    """Remove a photo (owner or admin); the listing's `images` follow in the same transaction."""
    async with UnitOfWork() as uow:
        listing = await _locked_listing_for_change(uow, principal, listing_id)
        row = await uow.conn.fetchrow(
            "DELETE FROM listing_photos WHERE id = $1 AND listing = $2 RETURNING *", photo_id, listing_id
        )
        if row is None:
            raise NotFound("photo not found")
        if row["status"] == "ready":
            await _publish_images(uow, listing)
    for key in (row["original_key"], row["thumbnail_key"], row["large_key"]):
        if key:
            try:
                await storage.delete(key)
            except OSError:
                log.warning("could not delete media file %s", key, exc_info=True)


async def _publish_images(uow: UnitOfWork, listing) -> None:
    """Rewrite the listing's `images` from its ready photos, bump its version, emit `listing.updated`."""
    rows = await uow.conn.fetch(
        "SELECT * FROM listing_photos WHERE listing = $1 AND status = 'ready' ORDER BY created_at, id",
        listing["id"],
    )
    images = [
        {
            "id": str(r["id"]),
            "url": media_url(r["large_key"]),
            "thumbnailUrl": media_url(r["thumbnail_key"]),
            "width": r["width"],
            "height": r["height"],
        }
        for r in rows
    ]
    updated = await uow.conn.fetchrow(
        """UPDATE listings SET images = $2::jsonb, version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING *""",
        listing["id"],
        msgspec.json.encode(images).decode(),
    )
    holds = await service._active_holds([listing["id"]])
    service._emit_changes(
        uow, listing, updated, listing_read(updated, holds.get(listing["id"])), ["photos"], None
    )


async def process_photo(photo_id: uuid.UUID, *, storage: MediaStorage) -> str:
    """Make the renditions of one photo and publish it; idempotent. Returns the photo's final status."""
    row = await db.fetchrow("SELECT * FROM listing_photos WHERE id = $1", photo_id)
    if row is None:
        return "gone"
    if row["status"] != "processing":
        return row["status"]
    base = _keys(row["listing"], photo_id)
    try:
        original = await storage.get(row["original_key"])
        renditions = await asyncio.to_thread(render_renditions, original, row["content_type"])
    except (UnsupportedImage, ImageTooLarge, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        log.warning("photo %s cannot be processed", photo_id, exc_info=True)
        async with UnitOfWork() as uow:
            await uow.conn.execute(
                "UPDATE listing_photos SET status = 'failed', processed_at = now()"
                " WHERE id = $1 AND status = 'processing'",
                photo_id,
            )
        return "failed"
    keys = {name: f"{base}/{name}.webp" for name in renditions}
    for name, data in renditions.items():
        await storage.put(keys[name], data)
    async with UnitOfWork() as uow:
        listing = await uow.conn.fetchrow("SELECT * FROM listings WHERE id = $1 FOR UPDATE", row["listing"])
        done = await uow.conn.fetchval(
            """UPDATE listing_photos SET status = 'ready', thumbnail_key = $2, large_key = $3, processed_at = now()
               WHERE id = $1 AND status = 'processing' RETURNING id""",
            photo_id,
            keys["thumb"],
            keys["large"],
        )
        if done is not None and listing is not None:
            await _publish_images(uow, listing)
    if done is None:
        # Deleted (or finished by another run) while we worked: our files must not outlive the row.
        current = await db.fetchrow("SELECT status FROM listing_photos WHERE id = $1", photo_id)
        if current is None:
            for key in keys.values():
                await storage.delete(key)
            return "gone"
        return current["status"]
    return "ready"


async def stuck_photos(older_than_s: int, limit: int) -> list[uuid.UUID]:
    """Photos still processing after `older_than_s` (their job was lost): the worker's retry list."""
    rows = await db.fetch(
        """SELECT id FROM listing_photos WHERE status = 'processing'
           AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2""",
        float(older_than_s),
        limit,
    )
    return [r["id"] for r in rows]


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


async def enqueue_processing(redis: Redis, photo_id: uuid.UUID) -> None:
    """Queue the rendition job (best effort: the worker's retry cron finds photos whose job was lost)."""
    queue = ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        await queue.enqueue_job(
            JOB_NAME, str(photo_id), _job_id=f"{JOB_NAME}:{photo_id}", **tracing.job_headers()
        )
    except Exception:
        log.warning("could not queue processing of photo %s; the retry cron will", photo_id, exc_info=True)


class MediaFile(msgspec.Struct, frozen=True):
    key: str
    public: bool


async def media_access(key: str, viewer: Principal | None) -> MediaFile:
    """May `viewer` fetch the media file `key`? Renditions of visible listings are public; originals
    and anything of a hidden listing only for the owner and admins. 404 otherwise (no existence leak)."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "listings":
        raise NotFound("file not found")
    try:
        listing_id, photo_id = uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        raise NotFound("file not found") from None
    row = await db.fetchrow(
        """SELECT p.original_key, p.thumbnail_key, p.large_key, l.seller, l.status
           FROM listing_photos p JOIN listings l ON l.id = p.listing WHERE p.id = $1 AND p.listing = $2""",
        photo_id,
        listing_id,
    )
    if row is None or key not in (row["original_key"], row["thumbnail_key"], row["large_key"]):
        raise NotFound("file not found")
    public = key != row["original_key"] and policy.may_read_row(row, None)
    if not public and not _may_manage(row, viewer):
        raise NotFound("file not found")
    return MediaFile(key=key, public=public)

"""Attachments: files uploaded into a thread (PDF, JPEG, PNG, WebP decided by content, ≤ 20 MB).

PDFs must parse (the verification domain's document check); images must decode and are re-encoded by the
worker like listing photos: a WebP without metadata (`large`, fits 1024 px) and a thumbnail (`thumb`,
320 px). The original upload of an image is never served: it may carry EXIF (GPS, camera serial).
Files are served only to the thread's participants (and admins, audited), as attachments with `nosniff`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core import db
from app.core.db import UnitOfWork
from app.core.errors import AppError, NotFound
from app.core.storage import Storage as MediaStorage
from app.listings import photos
from app.messaging import policy
from app.messaging.reads import attachment_read
from app.messaging.schemas import AttachmentRead
from app.verification import documents

log = logging.getLogger("atp.messaging.attachments")

MAX_BYTES = 20 * 1024 * 1024
JOB_NAME = "process_message_attachment"
PDF = "application/pdf"
_EXTENSIONS = {PDF: "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")


class AttachmentTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Attachment too large"


class UnsupportedAttachment(AppError):
    status, code, title = 415, "unsupported_media_type", "Only PDF, JPEG, PNG and WebP files can be attached"


class UnreadableAttachment(AppError):
    status, code, title = 422, "unreadable_attachment", "The file cannot be read"


def sniff(data: bytes) -> str | None:
    """The accepted type the leading bytes prove (the declared type and file name are ignored)."""
    if b"%PDF-" in data[:1024]:
        return PDF
    return photos.sniff(data)


def safe_name(name: str | None, content_type: str) -> str:
    """A display name without path parts or control characters, ending in the type's extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" ._")[:150] or "attachment"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem}.{'webp' if content_type.startswith('image/') else _EXTENSIONS[content_type]}"


def check(data: bytes) -> str:
    """The content type of an acceptable file; a clear problem otherwise (nothing is stored before this)."""
    if len(data) > MAX_BYTES:
        raise AttachmentTooLarge(f"an attachment may be at most {MAX_BYTES:,} bytes", maxBytes=MAX_BYTES)
    if not data:
        raise UnreadableAttachment("the file is empty")
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedAttachment(
            "only PDF, JPEG, PNG and WebP files can be attached (decided by content, not by name)",
            accepted=[PDF, "image/jpeg", "image/png", "image/webp"],
        )
    try:
        if content_type == PDF:
            documents.inspect(data, max_bytes=MAX_BYTES, max_pixels=photos.MAX_PIXELS)
        else:
            photos.inspect_image(data)
    except (documents.UnreadableDocument, photos.ImageTooLarge) as exc:
        raise UnreadableAttachment(exc.detail) from None
    except photos.UnsupportedImage as exc:
        raise UnsupportedAttachment(exc.detail) from None
    return content_type


async def upload(
    principal: Principal, thread_id: uuid.UUID, name: str | None, data: bytes, *, storage: MediaStorage
) -> tuple[AttachmentRead, bool]:
    """Store a participant's upload; (attachment, needs the worker). Images are ready once re-encoded."""
    async with UnitOfWork() as uow:
        await policy.require_member(uow.conn, principal, thread_id)
    content_type = await asyncio.to_thread(check, data)
    attachment_id = uuid.uuid4()
    key = f"threads/{thread_id}/{attachment_id}/original.{_EXTENSIONS[content_type]}"
    is_image = content_type != PDF
    await storage.put(key, data)
    try:
        async with UnitOfWork() as uow:
            row = await uow.conn.fetchrow(
                """INSERT INTO message_attachments
                       (id, thread_id, uploader_id, name, content_type, size, storage_key, status)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
                attachment_id,
                thread_id,
                principal.user_id,
                safe_name(name, content_type),
                "image/webp" if is_image else content_type,
                len(data),
                key,
                "processing" if is_image else "ready",
            )
    except BaseException:
        await storage.delete(key)
        raise
    return attachment_read(row), is_image


async def process(attachment_id: uuid.UUID, *, storage: MediaStorage) -> str:
    """Re-encode an image attachment (metadata stripped) and make its thumbnail; idempotent."""
    row = await db.fetchrow("SELECT * FROM message_attachments WHERE id = $1", attachment_id)
    if row is None:
        return "gone"
    if row["status"] != "processing":
        return row["status"]
    original_key = row["storage_key"]
    base = original_key.rsplit("/", 1)[0]
    try:
        original = await storage.get(original_key)
        content_type = photos.sniff(original) or ""
        renditions = await asyncio.to_thread(photos.render_renditions, original, content_type)
    except Exception:
        log.warning("attachment %s cannot be processed", attachment_id, exc_info=True)
        await db.fetch(
            "UPDATE message_attachments SET status = 'failed' WHERE id = $1 AND status = 'processing'",
            attachment_id,
        )
        return "failed"
    keys = {name: f"{base}/{name}.webp" for name in renditions}
    for name, data in renditions.items():
        await storage.put(keys[name], data)
    done = await db.fetchrow(
        """UPDATE message_attachments SET status = 'ready', storage_key = $2, thumb_key = $3, size = $4
           WHERE id = $1 AND status = 'processing' RETURNING id""",
        attachment_id,
        keys["large"],
        keys["thumb"],
        len(renditions["large"]),
    )
    if done is not None:
        await storage.delete(original_key)  # only the re-encoded image is ever served
    return "ready" if done is not None else "gone"


class Served(msgspec.Struct, frozen=True):
    key: str
    name: str
    content_type: str


async def for_download(
    principal: Principal, thread_id: uuid.UUID, attachment_id: uuid.UUID, *, thumbnail: bool
) -> Served:
    """What to send a participant (or an admin, audited); 404 for everyone else and for unready files."""
    async with UnitOfWork() as uow:
        await policy.require_reader(uow.conn, principal, thread_id)
        row = await uow.conn.fetchrow(
            "SELECT * FROM message_attachments WHERE id = $1 AND thread_id = $2", attachment_id, thread_id
        )
    # An attachment not yet sent in a message is visible to its uploader only.
    if (
        row is None
        or row["status"] != "ready"
        or (row["message_id"] is None and row["uploader_id"] != principal.user_id)
    ):
        raise NotFound("attachment not found", code="attachment_not_found")
    if thumbnail and row["thumb_key"]:
        return Served(row["thumb_key"], "thumb-" + row["name"], "image/webp")
    return Served(row["storage_key"], row["name"], row["content_type"])


def _serialize(value: dict) -> bytes:
    return msgspec.msgpack.encode(value)


def _deserialize(data: bytes) -> dict:
    return msgspec.msgpack.decode(data)


async def enqueue_processing(redis: Redis, attachment_id: uuid.UUID) -> None:
    """Queue the re-encoding job (best effort: the worker's retry cron finds attachments whose job was lost)."""
    queue = ArqRedis(redis.connection_pool, job_serializer=_serialize, job_deserializer=_deserialize)
    try:
        await queue.enqueue_job(JOB_NAME, str(attachment_id), _job_id=f"{JOB_NAME}:{attachment_id}")
    except Exception:
        log.warning("could not queue processing of attachment %s", attachment_id, exc_info=True)


async def stuck(older_than_s: int, limit: int) -> list[uuid.UUID]:
    rows = await db.fetch(
        """SELECT id FROM message_attachments WHERE status = 'processing'
           AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2""",
        float(older_than_s),
        limit,
    )
    return [r["id"] for r in rows]

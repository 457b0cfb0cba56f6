"""HTTP endpoints of messaging (API.md "Messaging"): threads, messages, read markers, blocks, reports."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from redis.asyncio import Redis

from app.auth.principal import Principal
from app.core.downloads import stored_file_response
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.core.storage import storage_for
from app.messaging import attachments, queries, ratelimit, service
from app.messaging.schemas import (
    AttachmentRead,
    MessageCreate,
    MessageRead,
    ReadMarker,
    ReportCreate,
    ReportDecision,
    ReportQueueItem,
    ReportRead,
    ReportStatus,
    ThreadCreate,
    ThreadRead,
    UnreadRead,
)
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
# The hard ceiling of one upload request body; 20 MB per file is enforced below it.
UPLOAD_REQUEST_CAP = 64 * 1024 * 1024
_MULTIPART_OVERHEAD = 64 * 1024


class AttachmentUpload(msgspec.Struct, forbid_unknown_fields=True):
    """The multipart form of an attachment upload: one part named `file`."""

    file: UploadFile


async def _refuse_oversized_upload(request: Request) -> None:
    """413 from Content-Length alone, before a byte of an oversized body is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > attachments.MAX_BYTES + _MULTIPART_OVERHEAD:
        raise attachments.AttachmentTooLarge(f"an attachment may be at most {attachments.MAX_BYTES:,} bytes")


Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=500)]


class ThreadController(Controller):
    path = "/api/threads"
    tags = ["messaging"]
    security = SECURED

    @post(
        "/", summary="Message the seller: open (or find) the caller's thread about a listing with a message"
    )
    async def open_thread(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        data: JSONBody[ThreadCreate],
    ) -> Response[ThreadRead]:
        await ratelimit.take(redis, principal.user_id, data.client_id, settings.message_rate_per_min)
        thread, created = await service.open_thread(principal, data)
        return Response(thread, status_code=201 if created else 200)

    @get("/", summary="The caller's threads, latest activity first")
    async def list_threads(
        self,
        principal: NamedDependency[Principal],
        listing_id: Annotated[uuid.UUID | None, QueryParameter(name="listingId")] = None,
        unread: Annotated[
            bool | None, QueryParameter(description="only threads with (or without) unread")
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[ThreadRead]:
        return await queries.list_threads(
            principal, listing_id=listing_id, unread=unread, limit=limit, cursor=cursor
        )

    @get("/unread-count", summary="The header badge: unread messages over all the caller's threads")
    async def unread_total(self, principal: NamedDependency[Principal]) -> UnreadRead:
        return await queries.unread_total(principal)

    @get("/{thread_id:uuid}", summary="One thread (participants; admins on the record)")
    async def get_thread(
        self, principal: NamedDependency[Principal], thread_id: FromPath[uuid.UUID]
    ) -> ThreadRead:
        return await queries.get_thread(principal, thread_id)

    @get("/{thread_id:uuid}/messages", summary="A thread's messages, newest first")
    async def list_messages(
        self,
        principal: NamedDependency[Principal],
        thread_id: FromPath[uuid.UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[MessageRead]:
        return await queries.list_messages(principal, thread_id, limit=limit, cursor=cursor)

    @post(
        "/{thread_id:uuid}/messages",
        status_code=201,
        summary="Send a message; a repeated clientId returns the first message, never a second one",
    )
    async def send_message(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        thread_id: FromPath[uuid.UUID],
        data: JSONBody[MessageCreate],
    ) -> MessageRead:
        await ratelimit.take(redis, principal.user_id, data.client_id, settings.message_rate_per_min)
        return await service.send_message(principal, thread_id, data)

    @post(
        "/{thread_id:uuid}/attachments",
        status_code=201,
        summary="Upload a file into the thread (PDF, JPEG, PNG, WebP by content, at most 20 MB)",
        request_max_body_size=UPLOAD_REQUEST_CAP,
        before_request=_refuse_oversized_upload,
    )
    async def upload_attachment(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        thread_id: FromPath[uuid.UUID],
        data: Annotated[AttachmentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> AttachmentRead:
        content = await data.file.read(attachments.MAX_BYTES + 1)
        attachment, needs_worker = await attachments.upload(
            principal, thread_id, data.file.filename, content, storage=storage_for(settings)
        )
        if needs_worker:
            await attachments.enqueue_processing(redis, attachment.id)
        return attachment

    @get(
        "/{thread_id:uuid}/attachments/{attachment_id:uuid}",
        summary="Download an attachment (participants; admins on the record)",
    )
    async def download_attachment(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        thread_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID],
        variant: Annotated[
            str | None, QueryParameter(pattern="^thumb$", description="`thumb` for images")
        ] = None,
    ) -> Stream:
        served = await attachments.for_download(
            principal, thread_id, attachment_id, thumbnail=variant == "thumb"
        )
        return await stored_file_response(
            storage_for(settings, "media"),
            served.key,
            media_type=served.content_type,
            filename=served.name,
            headers={"Cache-Control": "private, max-age=3600"},
            not_found="attachment not found",
            code="attachment_not_found",
        )

    @post(
        "/{thread_id:uuid}/read",
        status_code=204,
        summary="Everything up to this message is read for the caller",
    )
    async def mark_read(
        self,
        principal: NamedDependency[Principal],
        thread_id: FromPath[uuid.UUID],
        data: JSONBody[ReadMarker],
    ) -> None:
        await service.mark_read(principal, thread_id, data.message_id)


class BlockController(Controller):
    path = "/api/users"
    tags = ["messaging"]
    security = SECURED

    @post(
        "/{user_id:uuid}/block",
        status_code=204,
        summary="Stop a user from opening threads with or messaging you",
    )
    async def block_user(self, principal: NamedDependency[Principal], user_id: FromPath[uuid.UUID]) -> None:
        await service.block(principal, user_id)

    @delete("/{user_id:uuid}/block", status_code=204, summary="Lift a block")
    async def unblock_user(self, principal: NamedDependency[Principal], user_id: FromPath[uuid.UUID]) -> None:
        await service.unblock(principal, user_id)


class ReportController(Controller):
    path = "/api/messages"
    tags = ["messaging"]
    security = SECURED

    @post("/{message_id:uuid}/report", status_code=201, summary="Report a message to the moderators")
    async def report_message(
        self,
        principal: NamedDependency[Principal],
        message_id: FromPath[uuid.UUID],
        data: JSONBody[ReportCreate],
    ) -> ReportRead:
        return await service.report(principal, message_id, data)


class ModerationController(Controller):
    path = "/api/admin/message-reports"
    tags = ["admin", "messaging"]
    security = SECURED

    @get("/", summary="The moderation queue: reported messages with their context (admin)")
    async def list_reports(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[ReportStatus, QueryParameter()] = "open",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[ReportQueueItem]:
        return await queries.report_queue(principal, status=status, limit=limit, cursor=cursor)

    @patch("/{report_id:uuid}", summary="Close a report as dismissed or actioned (admin, audited)")
    async def resolve_report(
        self,
        principal: NamedDependency[Principal],
        report_id: FromPath[uuid.UUID],
        data: JSONBody[ReportDecision],
    ) -> ReportQueueItem:
        return await queries.resolve_report(principal, report_id, data)


CONTROLLERS = [ThreadController, BlockController, ReportController, ModerationController]

"""Wire shapes of threads, messages, blocks and reports (API.md "Messaging")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from app.core.schema import Schema

Role = Literal["buyer", "seller", "broker"]
ReportStatus = Literal["open", "dismissed", "actioned"]

# Stored as sent and rendered as text; 1..4000 characters (PostgreSQL checks the same bound).
Body = Annotated[str, Meta(min_length=1, max_length=4000)]
ClientId = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]
MAX_ATTACHMENTS = 10


class ThreadCreate(Schema):
    listing_id: uuid.UUID
    body: Body
    client_id: ClientId | None = None


class MessageCreate(Schema):
    body: Body
    client_id: ClientId | None = None
    attachment_ids: Annotated[list[uuid.UUID], Meta(max_length=MAX_ATTACHMENTS)] = []


class ReadMarker(Schema):
    message_id: uuid.UUID


class ReportCreate(Schema):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class ReportDecision(Schema):
    status: Literal["dismissed", "actioned"]


class AttachmentRead(Schema):
    id: uuid.UUID
    name: str
    content_type: str
    size: int
    url: str | None = None


class MessageRead(Schema):
    id: uuid.UUID
    thread_id: uuid.UUID
    sender_id: uuid.UUID
    body: str
    attachments: list[AttachmentRead]
    client_id: str | None
    created_at: datetime


class ParticipantRead(Schema):
    user_id: uuid.UUID
    role: Role
    display_name: str
    # The newest message this participant has read (read ticks); null before their first read.
    last_read_message_id: uuid.UUID | None = None


class ThreadRead(Schema):
    id: uuid.UUID
    listing_id: uuid.UUID
    participants: list[ParticipantRead]
    last_message: MessageRead | None
    unread_count: int
    created_at: datetime
    updated_at: datetime


class UnreadRead(Schema):
    """The header badge: unread messages over all the caller's threads, and how many threads have some."""

    unread_count: int
    threads: int


class ReportRead(Schema):
    id: uuid.UUID
    message_id: uuid.UUID
    status: ReportStatus
    created_at: datetime


class ReportQueueItem(Schema):
    """A report with the context a moderator needs: the message, the thread around it, who is who."""

    id: uuid.UUID
    status: ReportStatus
    reason: str
    reporter_id: uuid.UUID
    created_at: datetime
    message: MessageRead
    thread_id: uuid.UUID
    listing_id: uuid.UUID
    participants: list[ParticipantRead]
    context: list[MessageRead]
    resolved_by: uuid.UUID | None = None
    resolved_at: datetime | None = None

"""Messaging: threads per (listing, buyer), their participants and read markers, messages, attachments,
blocks between users, reports for moderation, and the offline-notification consumer's state.

The schema (constraints, indexes) is the raw-SQL migration; these classes name the tables for Piccolo.
"""

from piccolo.columns import UUID, BigInt, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class Thread(Table, tablename="message_threads"):
    """One conversation about one listing, opened by one buyer; unique per (listing, buyer)."""

    id = UUID(primary_key=True, default=UUID4())
    listing_id = UUID()
    buyer_id = UUID()
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Participant(Table, tablename="thread_participants"):
    """A member of a thread with a read marker: messages at or below `last_read_position` are read."""

    thread_id = UUID()
    user_id = UUID()
    role = Varchar(length=10)
    last_read_position = BigInt(default=0)
    joined_at = Timestamptz(default=TimestamptzNow())


class Message(Table, tablename="messages"):
    """One message; `position` orders messages for read markers, `client_id` is unique per sender."""

    id = UUID(primary_key=True, default=UUID4())
    position = BigSerial()
    thread_id = UUID()
    sender_id = UUID()
    body = Text()
    client_id = Varchar(length=100, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Attachment(Table, tablename="message_attachments"):
    """A file uploaded into a thread; bound to a message when one is sent with it."""

    id = UUID(primary_key=True, default=UUID4())
    thread_id = UUID()
    uploader_id = UUID()
    message_id = UUID(null=True, default=None)
    name = Varchar(length=200)
    content_type = Varchar(length=100)
    size = Integer()
    storage_key = Varchar(length=300)
    thumb_key = Varchar(length=300, null=True, default=None)
    status = Varchar(length=20, default="ready")
    created_at = Timestamptz(default=TimestamptzNow())


class Block(Table, tablename="user_blocks"):
    """`blocker_id` does not want to hear from `blocked_id`."""

    blocker_id = UUID()
    blocked_id = UUID()
    created_at = Timestamptz(default=TimestamptzNow())


class Report(Table, tablename="message_reports"):
    """A message reported by a participant: the admin moderation queue."""

    id = UUID(primary_key=True, default=UUID4())
    message_id = UUID()
    reporter_id = UUID()
    reason = Text()
    status = Varchar(length=20, default="open")
    resolved_by = UUID(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class OfflineNotice(Table, tablename="thread_offline_notices"):
    """When a participant was last told about a thread while offline (at most one per 10 minutes)."""

    thread_id = UUID()
    user_id = UUID()
    notified_at = Timestamptz(default=TimestamptzNow())


class MessagingCursor(Table, tablename="messaging_cursors"):
    """How far the messaging outbox consumer has read."""

    name = Varchar(length=50, primary_key=True)
    position = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())

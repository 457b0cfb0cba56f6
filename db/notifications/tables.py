"""Notifications: delivery of stored notifications by email, Telegram and web push.

The `notifications` rows themselves live in db/search (created there first); this app owns how they
leave the platform: per-user channel preferences, one delivery per (notification, channel) with retries
and a dead letter, Telegram chat links, browser push subscriptions, and the consumer's outbox position.
"""

from piccolo.columns import UUID, Array, BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class NotificationCursor(Table, tablename="notification_cursors"):
    """How far a notification consumer has read the outbox."""

    name = Varchar(length=50, primary_key=True)
    position = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class NotificationPreference(Table, tablename="notification_preferences"):
    """The channels one user wants for one kind of notification (no row: the default)."""

    user_id = UUID()
    kind = Varchar(length=50)
    channels = Array(base_column=Varchar(length=20))
    updated_at = Timestamptz(default=TimestamptzNow())


class NotificationDelivery(Table, tablename="notification_deliveries"):
    """One notification on one channel: pending → sent, or dead after its last try."""

    id = UUID(primary_key=True, default=UUID4())
    notification_id = UUID()
    user_id = UUID(index=True)
    channel = Varchar(length=20)
    status = Varchar(length=20, default="pending")
    attempt = Integer(default=0)
    step = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    dead_at = Timestamptz(null=True, default=None)


class TelegramLink(Table, tablename="telegram_links"):
    """A user's Telegram chat, linked with a one-time code from the bot."""

    user_id = UUID(primary_key=True)
    chat_id = BigInt(unique=True)
    linked_at = Timestamptz(default=TimestamptzNow())


class PushSubscription(Table, tablename="push_subscriptions"):
    """A browser's Web Push subscription (endpoint + keys from PushManager.subscribe)."""

    id = UUID(primary_key=True, default=UUID4())
    user_id = UUID(index=True)
    endpoint = Text(unique=True)
    p256dh = Varchar(length=200)
    auth = Varchar(length=100)
    created_at = Timestamptz(default=TimestamptzNow())

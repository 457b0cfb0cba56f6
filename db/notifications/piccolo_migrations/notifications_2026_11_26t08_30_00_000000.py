from db.core.sql import sql_migration

ID = "2026-11-26T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notifications: preferences, per-channel deliveries with dead letter, Telegram links, push"

STATEMENTS = [
    """
    CREATE TABLE notification_cursors (
        name varchar(50) PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE notification_preferences (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind varchar(50) NOT NULL,
        channels varchar(20)[] NOT NULL DEFAULT '{}'
            CHECK (channels <@ ARRAY['email', 'telegram', 'push']::varchar(20)[]),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, kind)
    )
    """,
    # One row per (notification, channel): the consumer may run twice, the user hears once.
    """
    CREATE TABLE notification_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        channel varchar(20) NOT NULL CHECK (channel IN ('email', 'telegram', 'push')),
        status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        dead_at timestamptz,
        UNIQUE (notification_id, channel)
    )
    """,
    "CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (next_attempt_at)"
    " WHERE status = 'pending'",
    "CREATE INDEX notification_deliveries_dead_idx ON notification_deliveries (dead_at DESC, id)"
    " WHERE status = 'dead'",
    "CREATE INDEX notification_deliveries_user_idx ON notification_deliveries (user_id)",
    """
    CREATE TABLE telegram_links (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        chat_id bigint NOT NULL UNIQUE,
        linked_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE push_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        endpoint text NOT NULL UNIQUE CHECK (length(endpoint) <= 2000),
        p256dh varchar(200) NOT NULL,
        auth varchar(100) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id)",
    # The notification centre: unread first-page and unread count per user.
    "CREATE INDEX notifications_user_unread_idx ON notifications (user_id, created_at DESC, id DESC)"
    " WHERE read_at IS NULL",
]


async def forwards():
    return sql_migration(
        migration_id=ID, app_name="notifications", description=DESCRIPTION, statements=STATEMENTS
    )

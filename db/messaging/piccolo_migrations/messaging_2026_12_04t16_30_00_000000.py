from db.core.sql import sql_migration

ID = "2026-12-04T16:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messaging: threads, participants with read markers, messages, attachments, blocks, reports"

STATEMENTS = [
    """
    CREATE TABLE message_threads (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        listing_id uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
        buyer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (listing_id, buyer_id)
    )
    """,
    """
    CREATE TABLE thread_participants (
        thread_id uuid NOT NULL REFERENCES message_threads (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role varchar(10) NOT NULL CHECK (role IN ('buyer', 'seller', 'broker')),
        last_read_position bigint NOT NULL DEFAULT 0,
        joined_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, user_id)
    )
    """,
    # A user's inbox: their threads, then each thread's latest activity.
    "CREATE INDEX thread_participants_user_idx ON thread_participants (user_id, thread_id)",
    """
    CREATE TABLE messages (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        position bigserial NOT NULL UNIQUE,
        thread_id uuid NOT NULL REFERENCES message_threads (id) ON DELETE CASCADE,
        sender_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
        client_id varchar(100),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """,
    # A retried send with the same clientId finds the first message; never a second one.
    "CREATE UNIQUE INDEX messages_sender_client_uq ON messages (sender_id, client_id) WHERE client_id IS NOT NULL",
    "CREATE INDEX messages_thread_page_idx ON messages (thread_id, created_at DESC, id DESC)",
    # Unread counts: messages of a thread after a position, not sent by the reader.
    "CREATE INDEX messages_thread_position_idx ON messages (thread_id, position)",
    """
    CREATE TABLE message_attachments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        thread_id uuid NOT NULL REFERENCES message_threads (id) ON DELETE CASCADE,
        uploader_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        message_id uuid REFERENCES messages (id) ON DELETE SET NULL,
        name varchar(200) NOT NULL,
        content_type varchar(100) NOT NULL,
        size integer NOT NULL CHECK (size > 0),
        storage_key varchar(300) NOT NULL,
        thumb_key varchar(300),
        status varchar(20) NOT NULL DEFAULT 'ready' CHECK (status IN ('processing', 'ready', 'failed')),
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX message_attachments_message_idx ON message_attachments (message_id) WHERE message_id IS NOT NULL",
    "CREATE INDEX message_attachments_thread_idx ON message_attachments (thread_id)",
    """
    CREATE TABLE user_blocks (
        blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (blocker_id, blocked_id),
        CHECK (blocker_id <> blocked_id)
    )
    """,
    "CREATE INDEX user_blocks_blocked_idx ON user_blocks (blocked_id)",
    """
    CREATE TABLE message_reports (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        reporter_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
        status varchar(20) NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'actioned')),
        resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
        resolved_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (message_id, reporter_id)
    )
    """,
    "CREATE INDEX message_reports_queue_idx ON message_reports (created_at DESC, id DESC) WHERE status = 'open'",
    """
    CREATE TABLE thread_offline_notices (
        thread_id uuid NOT NULL REFERENCES message_threads (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        notified_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, user_id)
    )
    """,
    """
    CREATE TABLE messaging_cursors (
        name varchar(50) PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]


async def forwards():
    return sql_migration(
        migration_id=ID, app_name="messaging", description=DESCRIPTION, statements=STATEMENTS
    )

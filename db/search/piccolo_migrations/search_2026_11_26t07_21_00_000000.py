from db.core.sql import sql_migration

ID = "2026-11-26T07:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search: outbox consumer cursors, saved searches, their matches, stored notifications"

STATEMENTS = [
    """
    CREATE TABLE search_cursors (
        name varchar(50) PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE saved_searches (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name varchar(100) NOT NULL,
        query jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    'CREATE INDEX saved_searches_user_idx ON saved_searches (user_id, created_at)',
    # One row per (search, listing) told about: "new match" fires once, "price drop" below that price.
    """
    CREATE TABLE saved_search_matches (
        saved_search uuid NOT NULL REFERENCES saved_searches (id) ON DELETE CASCADE,
        listing uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
        notified_price numeric(14, 2) NOT NULL,
        notified_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (saved_search, listing)
    )
    """,
    """
    CREATE TABLE notifications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind varchar(50) NOT NULL,
        title varchar(200) NOT NULL,
        body text NOT NULL DEFAULT '',
        link varchar(500),
        data jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        read_at timestamptz
    )
    """,
    'CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at DESC)',
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="search", description=DESCRIPTION, statements=STATEMENTS)

from db.core.sql import sql_migration

ID = "2026-12-04T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "listing_watches: the aircraft each buyer watches (the watchlist)"

STATEMENTS = [
    """
    CREATE TABLE listing_watches (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        listing uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, listing)
    )
    """,
    # The watchlist page reads one user's watches newest first; the seller's count reads by listing.
    "CREATE INDEX listing_watches_user_created_idx ON listing_watches (user_id, created_at DESC, listing DESC)",
    "CREATE INDEX listing_watches_listing_idx ON listing_watches (listing)",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="listings", description=DESCRIPTION, statements=STATEMENTS)

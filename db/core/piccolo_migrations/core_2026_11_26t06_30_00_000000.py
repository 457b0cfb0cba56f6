from db.core.sql import sql_migration

ID = "2026-11-26T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "realtime: per-channel sequence counter for the outbox relay"

STATEMENTS = [
    # The relay numbers each channel's events 1, 2, 3…; the counter outlives pruned outbox rows.
    """
    CREATE TABLE realtime_channels (
        channel varchar(200) PRIMARY KEY,
        last_seq bigint NOT NULL CHECK (last_seq >= 0)
    )
    """,
    # Sequenced but not yet marked published: what a relay taking over must (re)publish first.
    "CREATE INDEX outbox_sequenced_unpublished_idx ON outbox_events (channel, seq)"
    " WHERE published_at IS NULL AND seq IS NOT NULL",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="core", description=DESCRIPTION, statements=STATEMENTS)

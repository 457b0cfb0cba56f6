from db.core.sql import sql_migration

ID = "2026-11-26T05:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "extensions, outbox indexes, append-only audit log, idempotency key uniqueness"

STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS cube",
    "CREATE EXTENSION IF NOT EXISTS earthdistance",
    # The relay scans only what is still unpublished.
    "CREATE INDEX outbox_unpublished_idx ON outbox_events (position) WHERE published_at IS NULL",
    # One domain event fans out to several channels: one row (and one seq) per channel.
    "CREATE UNIQUE INDEX outbox_event_channel_uq ON outbox_events (event_id, channel)",
    "CREATE UNIQUE INDEX outbox_channel_seq_uq ON outbox_events (channel, seq) WHERE seq IS NOT NULL",
    # Audit entries are evidence: nobody edits or deletes them, not even the application.
    """
    CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()
    """,
    "CREATE UNIQUE INDEX idempotency_scope_key_uq ON idempotency_keys (scope, key)",
    "CREATE INDEX idempotency_created_idx ON idempotency_keys (created_at)",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="core", description=DESCRIPTION, statements=STATEMENTS)

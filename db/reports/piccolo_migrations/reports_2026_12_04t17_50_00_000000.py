from db.core.sql import sql_migration

ID = "2026-12-04T17:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "reports: Excel exports built by a worker, with status, progress, stored file and link expiry"

STATEMENTS = [
    """
    CREATE TABLE reports (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind varchar(20) NOT NULL CHECK (kind IN ('market', 'inventory', 'deals')),
        filters jsonb NOT NULL DEFAULT '{}',
        status varchar(10) NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ready', 'failed')),
        progress smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        rows integer CHECK (rows >= 0),
        storage_key varchar(300),
        size_bytes bigint,
        error text,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        expires_at timestamptz,
        -- when the expired file was deleted from storage (the row stays: the owner's history, 410 for links)
        purged_at timestamptz,
        CHECK (status <> 'ready' OR (storage_key IS NOT NULL AND expires_at IS NOT NULL))
    )
    """,
    # The owner's list, newest first.
    "CREATE INDEX reports_owner_created_idx ON reports (owner_id, created_at DESC, id DESC)",
    # Reports in flight: the per-user limit and the sweep that re-queues lost or stalled builds.
    "CREATE INDEX reports_in_flight_idx ON reports (owner_id) WHERE status IN ('queued', 'running')",
    "CREATE INDEX reports_stale_idx ON reports (updated_at) WHERE status IN ('queued', 'running')",
    # Expired files still in storage: the purge's work list.
    "CREATE INDEX reports_expiring_idx ON reports (expires_at) WHERE status = 'ready' AND purged_at IS NULL",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="reports", description=DESCRIPTION, statements=STATEMENTS)

from db.core.sql import sql_migration

ID = "2026-11-26T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks: endpoints, rotating secrets, deliveries (log + dead letter), attempts"

STATEMENTS = [
    """
    CREATE TABLE webhook_cursors (
        name varchar(50) PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE webhook_endpoints (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        url text NOT NULL CHECK (length(url) <= 2000),
        event_types varchar(100)[] NOT NULL CHECK (cardinality(event_types) >= 1),
        description varchar(200) NOT NULL DEFAULT '',
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason varchar(200),
        failing_since timestamptz,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_id, created_at)",
    "CREATE INDEX webhook_endpoints_types_idx ON webhook_endpoints USING gin (event_types) WHERE enabled",
    """
    CREATE TABLE webhook_secrets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        secret varchar(100) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz
    )
    """,
    "CREATE INDEX webhook_secrets_endpoint_idx ON webhook_secrets (endpoint_id, created_at DESC)",
    # (endpoint, event) is unique: a consumer that runs twice never sends an event twice.
    """
    CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id uuid NOT NULL,
        event_type varchar(100) NOT NULL,
        seq bigint NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'dead')),
        attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        response_code integer,
        latency_ms integer,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        dead_at timestamptz,
        UNIQUE (endpoint_id, event_id)
    )
    """,
    # The head of each endpoint's queue: its oldest pending delivery.
    "CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, seq) WHERE status = 'pending'",
    "CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC)",
    "CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (dead_at DESC, id) WHERE status = 'dead'",
    """
    CREATE TABLE webhook_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        response_code integer,
        latency_ms integer NOT NULL,
        error text,
        response_body text,
        attempted_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt)",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="webhooks", description=DESCRIPTION, statements=STATEMENTS)

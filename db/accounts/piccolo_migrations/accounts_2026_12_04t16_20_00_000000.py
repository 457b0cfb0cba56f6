from db.core.sql import sql_migration

ID = "2026-12-04T16:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sessions a person can see (one row per refresh-token family); API key scopes"

STATEMENTS = [
    """CREATE TABLE auth_sessions (
        id uuid PRIMARY KEY,
        "user" uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        user_agent varchar(512) NOT NULL DEFAULT '',
        ip varchar(64) NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        auth_time timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
    )""",
    'CREATE INDEX auth_sessions_user_idx ON auth_sessions ("user", last_seen_at DESC)',
    # Keys minted before scopes existed keep every scope (their bots keep working); they still lose key
    # management, TOTP and password changes, which now need an interactive session. New keys: read only.
    """ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL
        DEFAULT ARRAY['read','listings','holds','offers','messages','webhooks']""",
    "ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT ARRAY['read']",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="accounts", description=DESCRIPTION, statements=STATEMENTS)

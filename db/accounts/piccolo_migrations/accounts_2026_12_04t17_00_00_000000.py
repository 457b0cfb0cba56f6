from db.core.sql import sql_migration

ID = "2026-12-04T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sign-in with an identity provider: linked identities; accounts made by a provider have no password"

STATEMENTS = [
    """
    CREATE TABLE user_identities (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "user" uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider varchar(32) NOT NULL,
        issuer varchar(500) NOT NULL,
        subject varchar(255) NOT NULL,
        email varchar(255) NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_login_at timestamptz
    )
    """,
    "CREATE UNIQUE INDEX user_identities_provider_subject_uq ON user_identities (provider, subject)",
    'CREATE INDEX user_identities_user_idx ON user_identities ("user")',
    # false for an account created by a provider sign-in: its hash is of a random secret nobody knows,
    # so unlinking its last identity would lock the owner out.
    "ALTER TABLE users ADD COLUMN password_set boolean NOT NULL DEFAULT true",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="accounts", description=DESCRIPTION, statements=STATEMENTS)

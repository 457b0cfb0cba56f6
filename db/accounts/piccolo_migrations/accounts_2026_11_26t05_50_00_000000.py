from db.core.sql import sql_migration

ID = "2026-11-26T05:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "account constraints: case-insensitive email, known user types and statuses, RBAC uniqueness"

STATEMENTS = [
    "CREATE UNIQUE INDEX users_email_lower_uq ON users (lower(email))",
    "ALTER TABLE users ADD CONSTRAINT users_user_type_ck CHECK (user_type IN ('buyer','seller','broker','admin'))",
    "ALTER TABLE users ADD CONSTRAINT users_status_ck CHECK (status IN ('pending','active','suspended'))",
    "ALTER TABLE users ADD CONSTRAINT users_verification_level_ck CHECK (verification_level BETWEEN 0 AND 3)",
    "CREATE UNIQUE INDEX role_permissions_uq ON role_permissions (role, permission)",
    "CREATE UNIQUE INDEX user_roles_uq ON user_roles (\"user\", role)",
    "CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (\"user\")",
    "CREATE INDEX api_keys_user_idx ON api_keys (\"user\")",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="accounts", description=DESCRIPTION, statements=STATEMENTS)

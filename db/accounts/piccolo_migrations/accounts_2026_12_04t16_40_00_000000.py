from db.core.encrypt_columns import encrypt_column
from db.core.sql import sql_and_data_migration

ID = "2026-12-04T16:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "TOTP seeds encrypted at rest (AES-GCM envelope, longer than varchar(64))"

STATEMENTS = ["ALTER TABLE users ALTER COLUMN totp_secret TYPE text"]


async def forwards():
    return sql_and_data_migration(
        migration_id=ID,
        app_name="accounts",
        description=DESCRIPTION,
        statements=STATEMENTS,
        data=encrypt_column("users", "totp_secret"),
    )

from db.core.encrypt_columns import encrypt_column
from db.core.sql import sql_and_data_migration

ID = "2026-12-04T16:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhook signing secrets encrypted at rest (AES-GCM envelope, longer than varchar(100))"

STATEMENTS = ["ALTER TABLE webhook_secrets ALTER COLUMN secret TYPE text"]


async def forwards():
    return sql_and_data_migration(
        migration_id=ID,
        app_name="webhooks",
        description=DESCRIPTION,
        statements=STATEMENTS,
        data=encrypt_column("webhook_secrets", "secret"),
    )

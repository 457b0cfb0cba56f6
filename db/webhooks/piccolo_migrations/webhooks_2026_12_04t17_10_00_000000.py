from db.core.sql import sql_migration

ID = "2026-12-04T17:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks: each delivery keeps the traceparent of the event it was made from"

STATEMENTS = [
    "ALTER TABLE webhook_deliveries ADD COLUMN traceparent varchar(55)",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="webhooks", description=DESCRIPTION, statements=STATEMENTS)

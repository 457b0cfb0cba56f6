from db.core.sql import sql_migration

ID = "2026-12-04T17:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox: the W3C traceparent of the request or job that emitted the event"

STATEMENTS = [
    # Nullable and without a default: adding it rewrites nothing; rows from before (and every row while
    # tracing is off) stay NULL. 55 = the length of a version-00 traceparent.
    "ALTER TABLE outbox_events ADD COLUMN traceparent varchar(55)",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="core", description=DESCRIPTION, statements=STATEMENTS)

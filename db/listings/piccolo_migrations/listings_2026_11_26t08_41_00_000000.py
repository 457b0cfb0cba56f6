from db.core.sql import sql_migration

ID = "2026-11-26T08:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "listings: the `verified` badge an approved aircraft verification sets"

STATEMENTS = [
    # A constant default: PostgreSQL adds the column without rewriting the table.
    "ALTER TABLE listings ADD COLUMN verified boolean NOT NULL DEFAULT false",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="listings", description=DESCRIPTION, statements=STATEMENTS)

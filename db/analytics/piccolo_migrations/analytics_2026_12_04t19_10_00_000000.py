from db.core.sql import sql_migration

ID = "2026-12-04T19:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics: comparables ranked on an index that carries hours (index-only)"

STATEMENTS = [
    # Comparables rank the nearest build years of one type by similarity (year and hours) before reading
    # any listing row: with hours in the index that ranking is an index-only scan, and only the ~20 rows
    # kept are fetched from `listings` (the former index made every one of up to 240 candidates a heap read).
    "CREATE INDEX listing_search_type_year_hours_idx ON listing_search (maker_key, model_key, year_manufactured, id)"
    " INCLUDE (status, hours_total)",
    "DROP INDEX listing_search_type_year_idx",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="analytics", description=DESCRIPTION, statements=STATEMENTS)

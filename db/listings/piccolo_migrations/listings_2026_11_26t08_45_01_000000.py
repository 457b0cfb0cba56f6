from db.core.sql import sql_migration

ID = "2026-11-26T08:45:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "listing photos constraints; price history backfill for listings that never had a row"

STATEMENTS = [
    """ALTER TABLE listing_photos ADD CONSTRAINT listing_photos_status_ck
       CHECK (status IN ('processing','ready','failed'))""",
    "CREATE INDEX listing_photos_listing_created_idx ON listing_photos (listing, created_at, id)",
    # Partial: the retry sweep looks only for photos the worker has not finished.
    "CREATE INDEX listing_photos_processing_idx ON listing_photos (created_at) WHERE status = 'processing'",
    "CREATE INDEX listing_price_history_listing_changed_idx ON listing_price_history (listing, changed_at, id)",
    # The price-history endpoint promises the opening price as the first item; rows written before the
    # history was kept everywhere get their current price as the opening one.
    """
    INSERT INTO listing_price_history (listing, old_price, new_price, currency, changed_by, changed_at)
    SELECT l.id, NULL, l.price, l.currency, NULL, l.created_at FROM listings l
    WHERE NOT EXISTS (SELECT 1 FROM listing_price_history h WHERE h.listing = l.id)
    """,
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="listings", description=DESCRIPTION, statements=STATEMENTS)

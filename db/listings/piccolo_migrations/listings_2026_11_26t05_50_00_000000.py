from db.core.sql import sql_migration

ID = "2026-11-26T05:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "listing constraints: one live listing per tail number, value ranges, keyset indexes"

STATEMENTS = [
    # A tail number identifies one airframe: only one live listing may carry it at a time.
    """
    CREATE UNIQUE INDEX listings_live_tail_number_uq ON listings (upper(tail_number))
    WHERE status IN ('draft','active','on_hold','under_contract','suspended')
    """,
    """ALTER TABLE listings ADD CONSTRAINT listings_status_ck CHECK (status IN
       ('draft','active','on_hold','under_contract','sold','suspended','expired','withdrawn'))""",
    "ALTER TABLE listings ADD CONSTRAINT listings_price_ck CHECK (price > 0)",
    "ALTER TABLE listings ADD CONSTRAINT listings_hours_ck CHECK (hours_total >= 0)",
    "ALTER TABLE listings ADD CONSTRAINT listings_year_ck CHECK (year_manufactured >= 1903)",
    "CREATE INDEX listings_created_idx ON listings (created_at DESC, id DESC)",
    "CREATE INDEX listings_status_created_idx ON listings (status, created_at DESC, id DESC)",
    "CREATE INDEX listings_price_idx ON listings (price, id)",
    "CREATE INDEX listings_year_idx ON listings (year_manufactured, id)",
    "CREATE INDEX listings_hours_idx ON listings (hours_total, id)",
    "CREATE INDEX listings_manufacturer_model_idx ON listings (lower(manufacturer), lower(model))",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="listings", description=DESCRIPTION, statements=STATEMENTS)

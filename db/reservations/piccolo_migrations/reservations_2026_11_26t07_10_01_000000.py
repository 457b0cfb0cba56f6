from db.core.sql import sql_migration

ID = "2026-11-26T07:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "reservation constraints: one active hold per listing, one active reservation per buyer+listing"

STATEMENTS = [
    # The guarantee of exactly one winner: PostgreSQL, not the application, refuses a second active hold.
    "CREATE UNIQUE INDEX listing_holds_one_active_uq ON listing_holds (listing) WHERE status = 'active'",
    """ALTER TABLE listing_holds ADD CONSTRAINT listing_holds_status_ck
       CHECK (status IN ('active','released','expired','cancelled'))""",
    "ALTER TABLE listing_holds ADD CONSTRAINT listing_holds_period_ck CHECK (expires_at > placed_at)",
    # The expiry sweep scans only what is still active, soonest first.
    "CREATE INDEX listing_holds_active_expiry_idx ON listing_holds (expires_at) WHERE status = 'active'",
    # A buyer stands in one line once; order of arrival is the serial id.
    """CREATE UNIQUE INDEX listing_waitlist_waiting_uq ON listing_waitlist (listing, buyer)
       WHERE status = 'waiting'""",
    "CREATE INDEX listing_waitlist_line_idx ON listing_waitlist (listing, id) WHERE status = 'waiting'",
    """ALTER TABLE listing_waitlist ADD CONSTRAINT listing_waitlist_status_ck
       CHECK (status IN ('waiting','promoted','left'))""",
    # Commission protection: one active reservation per (buyer, listing), whoever the broker.
    """CREATE UNIQUE INDEX customer_reservations_one_active_uq ON customer_reservations (buyer, listing)
       WHERE status = 'active'""",
    """ALTER TABLE customer_reservations ADD CONSTRAINT customer_reservations_status_ck
       CHECK (status IN ('active','released','expired'))""",
    """ALTER TABLE customer_reservations ADD CONSTRAINT customer_reservations_period_ck
       CHECK (expires_at > reserved_at)""",
    """CREATE INDEX customer_reservations_active_expiry_idx ON customer_reservations (expires_at)
       WHERE status = 'active'""",
]


async def forwards():
    return sql_migration(
        migration_id=ID, app_name="reservations", description=DESCRIPTION, statements=STATEMENTS
    )

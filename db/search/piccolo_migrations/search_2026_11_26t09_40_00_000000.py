from db.core.sql import sql_migration

ID = "2026-11-26T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search: listing_search, a narrow copy of what search filters, sorts and ranks on"

# The columns listing_search copies from listings, in table order; the trigger and the backfill share them.
_COLUMNS = (
    "id, seller, status, manufacturer, model, maker_key, model_key, year_manufactured, hours_total, price, "
    "location_country, engine_type, max_passengers, max_range_nm, latitude, longitude, created_at, "
    "search_document, search_name"
)
_VALUES = """
    id, seller, status, manufacturer, model, lower(manufacturer), lower(model), year_manufactured,
    hours_total, price, location_country, specifications ->> 'engineType',
    (specifications ->> 'maxPassengers')::int, (specifications ->> 'maxRangeNm')::int,
    (specifications ->> 'latitude')::float8, (specifications ->> 'longitude')::float8, created_at,
    search_document, search_name
"""
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")[1:])

STATEMENTS = [
    # A listings row is about 1.3 kB (description, specifications, images): a search that ranks or
    # counts thousands of matches reads thousands of those pages. These rows are about 370 bytes.
    # The description's words stay on listings: their vector alone is ~1 kB, and TOAST would not
    # move it out of line here (it only acts on rows over ~2 kB). Searches read listings for them
    # only when the named models and these columns cannot answer alone.
    """
    CREATE TABLE listing_search (
        id uuid PRIMARY KEY REFERENCES listings (id) ON DELETE CASCADE,
        seller uuid,
        status varchar(20) NOT NULL,
        manufacturer varchar(100) NOT NULL,
        model varchar(100) NOT NULL,
        maker_key text NOT NULL,
        model_key text NOT NULL,
        year_manufactured integer NOT NULL,
        hours_total integer NOT NULL,
        price numeric(14, 2) NOT NULL,
        location_country varchar(2) NOT NULL,
        engine_type text,
        max_passengers integer,
        max_range_nm integer,
        latitude float8,
        longitude float8,
        created_at timestamptz NOT NULL,
        search_document tsvector NOT NULL,
        search_name text NOT NULL
    )
    """,
    # No listing is written between the copy below and the triggers that keep it in step.
    "LOCK TABLE listings IN SHARE ROW EXCLUSIVE MODE",
    f"INSERT INTO listing_search ({_COLUMNS}) SELECT {_VALUES} FROM listings",
    # Statement triggers with transition tables: a bulk COPY of 5,000 listings becomes one INSERT here,
    # in the same transaction as the write, so search never sees a listing that is not committed or
    # misses one that is. Deletes follow through the foreign key.
    f"""
    CREATE FUNCTION listing_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO listing_search ({_COLUMNS})
        SELECT {_VALUES} FROM changed_listings
        ON CONFLICT (id) DO UPDATE SET {_UPDATES}
        WHERE (listing_search.*) IS DISTINCT FROM (EXCLUDED.*);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER listing_search_insert AFTER INSERT ON listings
    REFERENCING NEW TABLE AS changed_listings FOR EACH STATEMENT EXECUTE FUNCTION listing_search_sync()
    """,
    """
    CREATE TRIGGER listing_search_update AFTER UPDATE ON listings
    REFERENCING NEW TABLE AS changed_listings FOR EACH STATEMENT EXECUTE FUNCTION listing_search_sync()
    """,
    "CREATE INDEX listing_search_document_idx ON listing_search USING gin (search_document)",
    "CREATE INDEX listing_search_name_trgm_idx ON listing_search USING gin (search_name gin_trgm_ops)",
    # Catalogue matches in id order: the first page of "cessna 172" is the top of one index range,
    # and with the status alongside, counting them reads the index alone (plain columns, not lower()
    # expressions, so that index-only scans apply).
    "CREATE INDEX listing_search_model_idx ON listing_search (maker_key, model_key, id) INCLUDE (status)",
    "CREATE INDEX listing_search_maker_idx ON listing_search (maker_key, id) INCLUDE (status)",
    "CREATE INDEX listing_search_model_key_idx ON listing_search (model_key)",
    "CREATE INDEX listing_search_created_idx ON listing_search (created_at DESC, id DESC)",
    "CREATE INDEX listing_search_price_idx ON listing_search (price, id)",
    "CREATE INDEX listing_search_year_idx ON listing_search (year_manufactured, id)",
    "CREATE INDEX listing_search_hours_idx ON listing_search (hours_total, id)",
    "CREATE INDEX listing_search_seller_idx ON listing_search (seller)",
    "CREATE INDEX listing_search_country_idx ON listing_search (location_country)",
    "CREATE INDEX listing_search_engine_type_idx ON listing_search (engine_type)",
    "CREATE INDEX listing_search_seats_idx ON listing_search (max_passengers)",
    "CREATE INDEX listing_search_range_idx ON listing_search (max_range_nm)",
    "CREATE INDEX listing_search_geo_idx ON listing_search USING gist (ll_to_earth(latitude, longitude))",
    "ANALYZE listing_search",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="search", description=DESCRIPTION, statements=STATEMENTS)

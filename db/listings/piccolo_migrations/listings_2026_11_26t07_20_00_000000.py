from db.core.sql import sql_migration

ID = "2026-11-26T07:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search: normalized names, weighted tsvector, trigram, filter and geo indexes"

STATEMENTS = [
    # unaccent() is only STABLE (its dictionary could change); pinning the dictionary makes the
    # function safe to declare IMMUTABLE, which generated columns and expression indexes require.
    """
    CREATE FUNCTION atp_normalize(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, value))
    """,
    """
    ALTER TABLE listings ADD COLUMN search_name text
    GENERATED ALWAYS AS (atp_normalize(manufacturer || ' ' || model)) STORED
    """,
    # Names weigh A, equipment B; 'simple' keeps model numbers and codes as typed. The description
    # stays out of the stored vector (it would double the row) and gets an expression index instead.
    """
    ALTER TABLE listings ADD COLUMN search_document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, atp_normalize(manufacturer || ' ' || model)), 'A')
        || setweight(to_tsvector('simple'::regconfig,
               atp_normalize(coalesce(specifications ->> 'avionics', ''))), 'B')
    ) STORED
    """,
    "CREATE INDEX listings_search_document_idx ON listings USING gin (search_document)",
    """
    CREATE INDEX listings_description_fts_idx ON listings
    USING gin (to_tsvector('simple'::regconfig, atp_normalize(left(description, 4000) || ' ' || location_city)))
    """,
    "CREATE INDEX listings_search_name_trgm_idx ON listings USING gin (search_name gin_trgm_ops)",
    "CREATE INDEX listings_lower_model_idx ON listings (lower(model))",
    "CREATE INDEX listings_country_idx ON listings (location_country)",
    "CREATE INDEX listings_engine_type_idx ON listings ((specifications ->> 'engineType'))",
    "CREATE INDEX listings_seats_idx ON listings (((specifications ->> 'maxPassengers')::int))",
    "CREATE INDEX listings_range_idx ON listings (((specifications ->> 'maxRangeNm')::int))",
    """
    CREATE INDEX listings_geo_idx ON listings USING gist (
        ll_to_earth((specifications ->> 'latitude')::float8, (specifications ->> 'longitude')::float8))
    """,
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="listings", description=DESCRIPTION, statements=STATEMENTS)

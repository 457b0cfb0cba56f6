from db.core.sql import sql_migration

ID = "2026-12-04T17:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics: market events, rollups, ECB rates, valuation models, risk flags"

STATEMENTS = [
    """
    CREATE TABLE analytics_cursors (
        name varchar(50) PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # One row per outbox event (its id is the key, so a replayed event is a no-op).
    """
    CREATE TABLE market_events (
        event_id uuid PRIMARY KEY,
        listing_id uuid NOT NULL,
        kind varchar(20) NOT NULL CHECK (kind IN ('listed', 'repriced', 'sold', 'delisted')),
        manufacturer varchar(100) NOT NULL,
        model varchar(100) NOT NULL,
        maker_key text NOT NULL,
        model_key text NOT NULL,
        year integer NOT NULL,
        hours integer,
        price numeric(14, 2),
        currency varchar(3),
        price_usd numeric(16, 2),
        status varchar(20) NOT NULL DEFAULT '',
        seller_id uuid,
        data jsonb NOT NULL DEFAULT '{}',
        occurred_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX market_events_type_idx ON market_events (maker_key, model_key, occurred_at)",
    "CREATE INDEX market_events_listing_idx ON market_events (listing_id, occurred_at)",
    # The whole market's rollups read one period of every type.
    "CREATE INDEX market_events_time_idx ON market_events (occurred_at)",
    # `prices` keeps the sorted observations so that several build years combine into exact quantiles.
    """
    CREATE TABLE market_rollups (
        maker_key text NOT NULL,
        model_key text NOT NULL,
        year integer NOT NULL,
        interval varchar(7) NOT NULL CHECK (interval IN ('month', 'quarter')),
        period date NOT NULL,
        manufacturer varchar(100) NOT NULL,
        model varchar(100) NOT NULL,
        listings integer NOT NULL,
        sales integer NOT NULL,
        min_usd numeric(16, 2) NOT NULL,
        max_usd numeric(16, 2) NOT NULL,
        median_usd numeric(16, 2) NOT NULL,
        p25_usd numeric(16, 2) NOT NULL,
        p75_usd numeric(16, 2) NOT NULL,
        prices numeric(16, 2)[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (maker_key, model_key, interval, year, period)
    )
    """,
    "CREATE INDEX market_rollups_maker_idx ON market_rollups (maker_key, interval, period)",
    """
    CREATE TABLE fx_rates (
        currency varchar(3) NOT NULL,
        rate_date date NOT NULL,
        per_eur numeric(18, 6) NOT NULL CHECK (per_eur > 0),
        PRIMARY KEY (currency, rate_date)
    )
    """,
    # Units of `cur` per euro on `at` (the latest rate on or before it, else the earliest known).
    """
    CREATE FUNCTION analytics_per_eur(cur text, at date) RETURNS numeric LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN cur = 'EUR' THEN 1::numeric ELSE coalesce(
            (SELECT per_eur FROM fx_rates WHERE currency = cur AND rate_date <= at
              ORDER BY rate_date DESC LIMIT 1),
            (SELECT per_eur FROM fx_rates WHERE currency = cur ORDER BY rate_date LIMIT 1)) END
    $$
    """,
    """
    CREATE FUNCTION analytics_to_usd(amount numeric, cur text, at date) RETURNS numeric
    LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN cur = 'USD' THEN amount
                    ELSE round(amount / analytics_per_eur(cur, at) * analytics_per_eur('USD', at), 2) END
    $$
    """,
    """
    CREATE TABLE valuation_models (
        version bigserial PRIMARY KEY,
        kind varchar(40) NOT NULL,
        trained_at timestamptz NOT NULL DEFAULT now(),
        rows integer NOT NULL DEFAULT 0,
        metrics jsonb NOT NULL DEFAULT '{}',
        blob bytea,
        sha256 varchar(64) NOT NULL DEFAULT '',
        active boolean NOT NULL DEFAULT true
    )
    """,
    """
    CREATE TABLE risk_flags (
        id bigserial PRIMARY KEY,
        listing_id uuid NOT NULL,
        seller_id uuid,
        code varchar(40) NOT NULL,
        severity varchar(10) NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
        detail text NOT NULL DEFAULT '',
        evidence jsonb NOT NULL DEFAULT '{}',
        raised_at timestamptz NOT NULL DEFAULT now(),
        cleared_at timestamptz
    )
    """,
    # At most one open flag per listing and code: raising twice is a no-op, not a duplicate.
    "CREATE UNIQUE INDEX risk_flags_open_idx ON risk_flags (listing_id, code) WHERE cleared_at IS NULL",
    # Comparables read the nearest build years of one type from search's narrow copy of listings: an index
    # range per side of the year instead of every listing of a popular type (read path only; search owns
    # the table and keeps it in step).
    "CREATE INDEX listing_search_type_year_idx ON listing_search (maker_key, model_key, year_manufactured, id)"
    " INCLUDE (status)",
    "CREATE INDEX risk_flags_open_list_idx ON risk_flags (raised_at DESC, id DESC) WHERE cleared_at IS NULL",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="analytics", description=DESCRIPTION, statements=STATEMENTS)

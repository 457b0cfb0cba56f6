"""Analytics: market events from the outbox, their rollups, exchange rates, valuation models, risk flags.

The schema itself (keys, indexes, the conversion function) is the raw-SQL migration in
piccolo_migrations/; these classes describe the same tables for Piccolo's registry.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Date,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AnalyticsCursor(Table, tablename="analytics_cursors"):
    """How far an analytics consumer has read the outbox."""

    name = Varchar(length=50, primary_key=True)
    position = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class MarketEvent(Table, tablename="market_events"):
    """One market fact (listed, repriced, sold, delisted), keyed by the outbox event it came from."""

    event_id = UUID(primary_key=True)
    listing_id = UUID()
    kind = Varchar(length=20)
    manufacturer = Varchar(length=100)
    model = Varchar(length=100)
    maker_key = Text()
    model_key = Text()
    year = Integer()
    hours = Integer(null=True, default=None)
    price = Numeric(digits=(14, 2), null=True, default=None)
    currency = Varchar(length=3, null=True, default=None)
    price_usd = Numeric(digits=(16, 2), null=True, default=None)
    status = Varchar(length=20, default="")
    seller_id = UUID(null=True, default=None)
    data = JSONB(default="{}")
    occurred_at = Timestamptz(default=TimestamptzNow())


class MarketRollup(Table, tablename="market_rollups"):
    """Price statistics of one type, one build year (0 = all years) and one month or quarter, in USD."""

    maker_key = Text()
    model_key = Text()
    year = Integer()
    interval = Varchar(length=7)
    period = Date()
    manufacturer = Varchar(length=100)
    model = Varchar(length=100)
    listings = Integer()
    sales = Integer()
    min_usd = Numeric(digits=(16, 2))
    max_usd = Numeric(digits=(16, 2))
    median_usd = Numeric(digits=(16, 2))
    p25_usd = Numeric(digits=(16, 2))
    p75_usd = Numeric(digits=(16, 2))
    updated_at = Timestamptz(default=TimestamptzNow())


class FxRate(Table, tablename="fx_rates"):
    """ECB reference rates: units of `currency` per euro on `rate_date`."""

    currency = Varchar(length=3)
    rate_date = Date()
    per_eur = Numeric(digits=(18, 6))


class ValuationModel(Table, tablename="valuation_models"):
    """A trained valuation model: its version, how it measured on held-out data, and the fitted object."""

    version = BigSerial(primary_key=True)
    kind = Varchar(length=40)
    trained_at = Timestamptz(default=TimestamptzNow())
    rows = Integer(default=0)
    metrics = JSONB(default="{}")
    blob = Bytea(null=True, default=None)
    sha256 = Varchar(length=64, default="")
    active = Boolean(default=True)


class RiskFlag(Table, tablename="risk_flags"):
    """A risk indicator on one listing; open while `cleared_at` is null (one open flag per code)."""

    id = BigSerial(primary_key=True)
    listing_id = UUID()
    seller_id = UUID(null=True, default=None)
    code = Varchar(length=40)
    severity = Varchar(length=10)
    detail = Text(default="")
    evidence = JSONB(default="{}")
    raised_at = Timestamptz(default=TimestamptzNow())
    cleared_at = Timestamptz(null=True, default=None)

from db.core.sql import sql_migration

ID = "2026-12-04T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "deals: offers, deals (one live per listing), payments, provider events, ledger, plans, subscriptions"

STATEMENTS = [
    """CREATE TABLE offers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        listing uuid NOT NULL REFERENCES listings (id),
        buyer uuid NOT NULL REFERENCES users (id),
        seller uuid NOT NULL REFERENCES users (id),
        broker uuid REFERENCES users (id),
        amount numeric(14, 2) NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status varchar(20) NOT NULL DEFAULT 'open'
            CHECK (status IN ('open','countered','accepted','rejected','withdrawn','expired','backup')),
        turn varchar(10) NOT NULL CHECK (turn IN ('buyer','seller')),
        conditions jsonb NOT NULL DEFAULT '{}',
        history jsonb NOT NULL DEFAULT '[]',
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX offers_listing_idx ON offers (listing, created_at, id)",
    "CREATE INDEX offers_buyer_idx ON offers (buyer, created_at)",
    "CREATE INDEX offers_seller_idx ON offers (seller, created_at)",
    # The expiry sweep scans only what can still expire, soonest first.
    """CREATE INDEX offers_live_expiry_idx ON offers (expires_at)
       WHERE status IN ('open','countered','backup')""",
    """CREATE TABLE deals (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        listing uuid NOT NULL REFERENCES listings (id),
        offer uuid NOT NULL UNIQUE REFERENCES offers (id),
        buyer uuid NOT NULL REFERENCES users (id),
        seller uuid NOT NULL REFERENCES users (id),
        broker uuid REFERENCES users (id),
        price numeric(14, 2) NOT NULL CHECK (price > 0),
        currency char(3) NOT NULL,
        status varchar(20) NOT NULL DEFAULT 'under_contract'
            CHECK (status IN ('under_contract','closed','fallen_through')),
        deposit_amount numeric(14, 2) NOT NULL DEFAULT 0 CHECK (deposit_amount >= 0),
        deposit_status varchar(20) NOT NULL DEFAULT 'required'
            CHECK (deposit_status IN ('required','pending','paid','refunded')),
        commission_rate numeric(6, 4) NOT NULL DEFAULT 0,
        commission_amount numeric(14, 2),
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        closed_at timestamptz
    )""",
    # The one-contract guarantee: PostgreSQL, not the application, refuses a second live deal per listing.
    "CREATE UNIQUE INDEX deals_one_live_uq ON deals (listing) WHERE status <> 'fallen_through'",
    "CREATE INDEX deals_buyer_idx ON deals (buyer)",
    "CREATE INDEX deals_seller_idx ON deals (seller)",
    """CREATE TABLE plans (
        id varchar(20) PRIMARY KEY,
        price numeric(14, 2) NOT NULL CHECK (price >= 0),
        currency char(3) NOT NULL,
        interval varchar(10) NOT NULL,
        commission_rate numeric(6, 4) NOT NULL CHECK (commission_rate >= 0 AND commission_rate < 1),
        active_listings integer NOT NULL,
        featured_listings integer NOT NULL,
        api_requests_per_minute integer NOT NULL,
        seats integer NOT NULL,
        position integer NOT NULL
    )""",
    """INSERT INTO plans VALUES
        ('basic', 49.00, 'USD', 'month', 0.0300, 3, 0, 60, 1, 1),
        ('professional', 199.00, 'USD', 'month', 0.0200, 25, 5, 300, 5, 2),
        ('enterprise', 999.00, 'USD', 'month', 0.0100, 1000, 100, 3000, 50, 3)""",
    """CREATE TABLE subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id),
        plan varchar(20) NOT NULL REFERENCES plans (id),
        status varchar(20) NOT NULL DEFAULT 'incomplete'
            CHECK (status IN ('incomplete','active','past_due','canceled')),
        cancel_at_period_end boolean NOT NULL DEFAULT false,
        current_period_end timestamptz,
        provider varchar(20) NOT NULL,
        provider_subscription_id varchar(255),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    # One live subscription per user.
    """CREATE UNIQUE INDEX subscriptions_one_live_uq ON subscriptions (user_id)
       WHERE status IN ('incomplete','active','past_due')""",
    """CREATE UNIQUE INDEX subscriptions_provider_uq ON subscriptions (provider, provider_subscription_id)
       WHERE provider_subscription_id IS NOT NULL""",
    """CREATE TABLE payments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        provider varchar(20) NOT NULL,
        provider_payment_id varchar(255) NOT NULL,
        kind varchar(20) NOT NULL CHECK (kind IN ('deposit','subscription')),
        user_id uuid NOT NULL REFERENCES users (id),
        deal uuid REFERENCES deals (id),
        subscription uuid REFERENCES subscriptions (id),
        amount numeric(14, 2) NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status varchar(20) NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending','succeeded','failed','refunded')),
        client_secret text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (provider, provider_payment_id)
    )""",
    "CREATE INDEX payments_deal_idx ON payments (deal, created_at)",
    # Each provider event is applied once: a repeat finds its id here and changes nothing.
    """CREATE TABLE payment_provider_events (
        provider varchar(20) NOT NULL,
        event_id varchar(255) NOT NULL,
        event_type varchar(100) NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, event_id)
    )""",
    """CREATE TABLE ledger_transactions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        type varchar(20) NOT NULL CHECK (type IN ('subscription','deposit','commission','refund','payout')),
        amount numeric(14, 2) NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        deal uuid,
        payment uuid,
        subscription uuid,
        effect_key varchar(200) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX ledger_transactions_created_idx ON ledger_transactions (created_at, id)",
    """CREATE TABLE ledger_entries (
        id bigserial PRIMARY KEY,
        transaction uuid NOT NULL REFERENCES ledger_transactions (id),
        account varchar(100) NOT NULL,
        debit numeric(14, 2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
        credit numeric(14, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
        CHECK ((debit > 0) <> (credit > 0))
    )""",
    "CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction)",
    "CREATE INDEX ledger_entries_account_idx ON ledger_entries (account)",
    # Double entry checked by PostgreSQL at commit: a transaction whose entries do not balance never lands.
    """CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE diff numeric;
       BEGIN
           SELECT coalesce(sum(debit), 0) - coalesce(sum(credit), 0) INTO diff
           FROM ledger_entries WHERE transaction = NEW.transaction;
           IF diff <> 0 THEN
               RAISE EXCEPTION 'ledger transaction % does not balance (%)', NEW.transaction, diff
                   USING ERRCODE = '23514';
           END IF;
           RETURN NULL;
       END $$""",
    """CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT OR UPDATE ON ledger_entries
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()""",
]


async def forwards():
    return sql_migration(migration_id=ID, app_name="deals", description=DESCRIPTION, statements=STATEMENTS)

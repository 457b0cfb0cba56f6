"""Offers, deals, payments, the double-entry ledger, plans and subscriptions.

The tables are created by a raw-SQL migration (constraints Piccolo cannot express: partial unique
indexes, a deferred balance trigger); these classes document the columns and serve Piccolo's registry.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from db.accounts.tables import User
from db.listings.tables import Listing


class Offer(Table, tablename="offers"):
    id = UUID(primary_key=True)
    listing = ForeignKey(references=Listing)
    buyer = ForeignKey(references=User)
    seller = ForeignKey(references=User)
    broker = ForeignKey(references=User, null=True)
    amount = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    status = Varchar(length=20)
    turn = Varchar(length=10)
    conditions = JSONB()
    history = JSONB()
    expires_at = Timestamptz()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Deal(Table, tablename="deals"):
    """At most one deal per listing that has not fallen through (partial unique index deals_one_live_uq)."""

    id = UUID(primary_key=True)
    listing = ForeignKey(references=Listing)
    offer = ForeignKey(references=Offer, unique=True)
    buyer = ForeignKey(references=User)
    seller = ForeignKey(references=User)
    broker = ForeignKey(references=User, null=True)
    price = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    status = Varchar(length=20)
    deposit_amount = Numeric(digits=(14, 2))
    deposit_status = Varchar(length=20)
    commission_rate = Numeric(digits=(6, 4))
    commission_amount = Numeric(digits=(14, 2), null=True)
    reason = Text(null=True)
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True)


class Payment(Table, tablename="payments"):
    id = UUID(primary_key=True)
    provider = Varchar(length=20)
    provider_payment_id = Varchar(length=255)
    kind = Varchar(length=20)
    user_id = ForeignKey(references=User)
    deal = ForeignKey(references=Deal, null=True)
    subscription = UUID(null=True)
    amount = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    status = Varchar(length=20)
    client_secret = Text(null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ProviderEvent(Table, tablename="payment_provider_events"):
    """Each inbound provider event once: primary key (provider, event_id)."""

    provider = Varchar(length=20)
    event_id = Varchar(length=255)
    event_type = Varchar(length=100)
    payload = JSONB()
    received_at = Timestamptz()


class LedgerTransaction(Table, tablename="ledger_transactions"):
    id = UUID(primary_key=True)
    type = Varchar(length=20)
    amount = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    deal = UUID(null=True)
    payment = UUID(null=True)
    subscription = UUID(null=True)
    effect_key = Varchar(length=200, unique=True)
    created_at = Timestamptz()


class LedgerEntry(Table, tablename="ledger_entries"):
    id = BigSerial(primary_key=True)
    transaction = ForeignKey(references=LedgerTransaction)
    account = Varchar(length=100)
    debit = Numeric(digits=(14, 2))
    credit = Numeric(digits=(14, 2))


class Plan(Table, tablename="plans"):
    id = Varchar(length=20, primary_key=True)
    price = Numeric(digits=(14, 2))
    currency = Varchar(length=3)
    interval = Varchar(length=10)
    commission_rate = Numeric(digits=(6, 4))
    active_listings = Integer()
    featured_listings = Integer()
    api_requests_per_minute = Integer()
    seats = Integer()
    position = Integer()


class Subscription(Table, tablename="subscriptions"):
    id = UUID(primary_key=True)
    user_id = ForeignKey(references=User)
    plan = Varchar(length=20)
    status = Varchar(length=20)
    cancel_at_period_end = Boolean(default=False)
    current_period_end = Timestamptz(null=True)
    provider = Varchar(length=20)
    provider_subscription_id = Varchar(length=255, null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()

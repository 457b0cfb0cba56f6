"""Outbound webhooks: endpoints bots register, their signing secrets, and every delivery and attempt."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class WebhookCursor(Table, tablename="webhook_cursors"):
    """How far the webhook consumer has read the outbox."""

    name = Varchar(length=50, primary_key=True)
    position = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookEndpoint(Table, tablename="webhook_endpoints"):
    id = UUID(primary_key=True, default=UUID4())
    owner_id = UUID(index=True)
    url = Text()
    event_types = Array(base_column=Varchar(length=100))
    description = Varchar(length=200, default="")
    enabled = Boolean(default=True)
    disabled_reason = Varchar(length=200, null=True, default=None)
    failing_since = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookSecret(Table, tablename="webhook_secrets"):
    """A signing secret; after a rotation the old one keeps signing until `expires_at`."""

    id = UUID(primary_key=True, default=UUID4())
    endpoint_id = UUID(index=True)
    secret = Text()  # sealed: app/core/crypto.py
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    """One event for one endpoint: pending → succeeded, or dead (the dead letter) after its last try."""

    id = UUID(primary_key=True, default=UUID4())
    endpoint_id = UUID()
    event_id = UUID()
    event_type = Varchar(length=100)
    seq = BigInt()
    payload = JSONB()
    occurred_at = Timestamptz()
    status = Varchar(length=20, default="pending")
    attempt = Integer(default=0)
    step = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    response_code = Integer(null=True, default=None)
    latency_ms = Integer(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
    dead_at = Timestamptz(null=True, default=None)
    traceparent = Varchar(length=55, null=True, default=None)


class WebhookAttempt(Table, tablename="webhook_attempts"):
    """The log of every HTTP attempt of a delivery."""

    id = BigSerial(primary_key=True)
    delivery_id = UUID(index=True)
    attempt = Integer()
    response_code = Integer(null=True, default=None)
    latency_ms = Integer()
    error = Text(null=True, default=None)
    response_body = Text(null=True, default=None)
    attempted_at = Timestamptz(default=TimestamptzNow())

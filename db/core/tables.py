"""Cross-domain infrastructure tables: the event outbox, the audit log, idempotency keys."""

from piccolo.columns import JSONB, UUID, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxEvent(Table, tablename="outbox_events"):
    """An event written in the same transaction as the change it describes (SPEC §5).

    `position` orders rows for the relay; `seq` is the per-channel sequence the relay assigns.
    """

    position = BigSerial(primary_key=True)
    event_id = UUID(index=True)
    channel = Varchar(length=200, index=True)
    event_type = Varchar(length=100)
    payload = JSONB()
    occurred_at = Timestamptz(default=TimestamptzNow())
    seq = Integer(null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
    traceparent = Varchar(length=55, null=True, default=None)


class AuditEntry(Table, tablename="audit_log"):
    """Append-only record of privileged actions (a trigger rejects UPDATE and DELETE)."""

    id = BigSerial(primary_key=True)
    actor_id = UUID(null=True, default=None, index=True)
    action = Varchar(length=100)
    subject_type = Varchar(length=50)
    subject_id = Varchar(length=100, index=True)
    data = JSONB(default="{}")
    request_id = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class IdempotencyKey(Table, tablename="idempotency_keys"):
    """Stored first answer for a retried POST (Stripe semantics)."""

    id = BigSerial(primary_key=True)
    scope = Varchar(length=200)
    key = Varchar(length=200)
    request_hash = Varchar(length=64)
    status_code = Integer(null=True, default=None)
    response_body = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())

"""Reports: Excel exports a user asked for, built by a worker (issue 16).

The schema (constraints, indexes) is the raw-SQL migration; this class names the table for Piccolo.
"""

from piccolo.columns import UUID, BigInt, Integer, SmallInt, Text, Timestamptz, Varchar
from piccolo.columns.column_types import JSONB
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class Report(Table, tablename="reports"):
    """One requested export: queued → running → ready | failed (a failed one may be queued again)."""

    id = UUID(primary_key=True, default=UUID4())
    owner_id = UUID()
    kind = Varchar(length=20)
    filters = JSONB(default="{}")
    status = Varchar(length=10, default="queued")
    progress = SmallInt(default=0)
    rows = Integer(null=True, default=None)
    storage_key = Varchar(length=300, null=True, default=None)
    size_bytes = BigInt(null=True, default=None)
    error = Text(null=True, default=None)
    attempts = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    purged_at = Timestamptz(null=True, default=None)

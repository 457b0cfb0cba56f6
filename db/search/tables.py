"""Search: consumer positions in the outbox, saved searches, their matches, and stored notifications."""

from piccolo.columns import JSONB, UUID, BigInt, Numeric, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class SearchCursor(Table, tablename="search_cursors"):
    """How far a search consumer (index, alerts) has read the outbox."""

    name = Varchar(length=50, primary_key=True)
    position = BigInt(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class SavedSearch(Table, tablename="saved_searches"):
    id = UUID(primary_key=True, default=UUID4())
    user_id = UUID(index=True)
    name = Varchar(length=100)
    query = JSONB(default="{}")
    created_at = Timestamptz(default=TimestamptzNow())


class SavedSearchMatch(Table, tablename="saved_search_matches"):
    """A listing a saved search already told its owner about, at the price they were told."""

    saved_search = UUID()
    listing = UUID()
    notified_price = Numeric(digits=(14, 2))
    notified_at = Timestamptz(default=TimestamptzNow())


class Notification(Table, tablename="notifications"):
    """A stored notification (delivery by email/Telegram comes with the notifications domain)."""

    id = UUID(primary_key=True, default=UUID4())
    user_id = UUID(index=True)
    kind = Varchar(length=50)
    title = Varchar(length=200)
    body = Text(default="")
    link = Varchar(length=500, null=True, default=None)
    data = JSONB(default="{}")
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)

"""Outbox consumers that keep their own position: lock it, read committed events after it, save it.

Positions come from a sequence, so a transaction that took a lower position may commit after one that
took a higher: a reader that skipped past it would lose its event. Readers therefore stop at the
committed bound (see `committed_bound`), below which no position can still appear.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from app.core.db import OUTBOX_FENCE_KEY

_TABLE = re.compile(r"^[a-z_]{1,63}$")


def _table(name: str) -> str:
    # The table is an identifier, not a value: only names we write in code ever reach the SQL.
    if not _TABLE.match(name):
        raise ValueError(f"not a cursor table name: {name!r}")
    return name


async def read_position(
    conn: asyncpg.Connection, table: str, name: str, *, skip_locked: bool = False
) -> int | None:
    """The consumer's position, locked until the transaction ends so two workers never overlap.

    With `skip_locked`, None (not a wait) when another transaction holds it: that consumer is running.
    """
    table = _table(table)
    await conn.execute(f"INSERT INTO {table} (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING", name)
    lock = "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"
    return await conn.fetchval(f"SELECT position FROM {table} WHERE name = $1 {lock}", name)


async def save_position(conn: asyncpg.Connection, table: str, name: str, position: int) -> None:
    await conn.execute(
        f"UPDATE {_table(table)} SET position = $2, updated_at = now() WHERE name = $1", name, position
    )


_LAST_POSITION = "coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox_events', 'position')), 0)"

# Lock, read, unlock in one statement (evaluated left to right): no await in between where a
# cancellation could leave the session-level lock held on a pooled connection.
_FENCE_SQL = f"""
SELECT pg_advisory_lock({OUTBOX_FENCE_KEY}) AS locked,
       {_LAST_POSITION} AS bound,
       pg_advisory_unlock({OUTBOX_FENCE_KEY}) AS unlocked
"""


async def committed_bound(conn: asyncpg.Connection, after: int = 0) -> int:
    """The highest outbox position that is final: every row at or below it is committed or never will be.

    Writers hold the outbox fence (shared) from before their rows take positions until they end;
    taking it exclusively waits out the few in flight (the outbox is written just before COMMIT), and
    the position sequence read meanwhile bounds every position already handed out. A lower position
    can never appear later, so a reader that stops at the bound skips only rolled-back gaps.
    When no position past `after` was handed out, there is nobody to wait for and no fence to take:
    idle pumps polling several times a second never make writers queue behind them.
    """
    handed_out = await conn.fetchval(f"SELECT {_LAST_POSITION}")
    if handed_out <= after:
        return after
    try:
        row = await conn.fetchrow(_FENCE_SQL)
    except BaseException:
        # A session lock outlives errors and rollbacks: should the statement have failed between
        # taking and dropping it, end the session rather than pool a connection that blocks writers.
        conn.terminate()
        raise
    return row["bound"]


async def committed_events(
    conn: asyncpg.Connection, after: int, *, limit: int = 500
) -> tuple[list[Any], int]:
    """Outbox rows after `after` in position order, up to the committed bound, and the position
    read up to (the bound itself once everything below it was returned). Rows come back whole."""
    bound = await committed_bound(conn, after)
    rows = await conn.fetch(
        """SELECT position, event_id, channel, event_type, payload, occurred_at, traceparent
           FROM outbox_events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3""",
        after,
        bound,
        limit,
    )
    if len(rows) == limit:
        return list(rows), rows[-1]["position"]
    return list(rows), max(bound, after)

"""Outbox consumers that keep their own position: lock it, read settled events after it, save it.

Positions come from a sequence, so a transaction that took a lower position may commit after one that
took a higher: a reader that skipped past it would lose its event. A gap in the positions read is
therefore waited for, up to `settle_s`; after that it is taken to be a rolled-back transaction.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

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


async def settled_events(
    conn: asyncpg.Connection, after: int, *, limit: int = 500, settle_s: float = 2.0
) -> tuple[list[Any], int]:
    """Outbox rows after `after` in position order, stopping before a gap younger than `settle_s`,
    and the position read up to. Rows come back whole (every channel and type)."""
    rows = await conn.fetch(
        """SELECT position, event_id, channel, event_type, payload, occurred_at,
                  occurred_at <= now() - make_interval(secs => $3) AS settled
           FROM outbox_events WHERE position > $1 ORDER BY position LIMIT $2""",
        after,
        limit,
        settle_s,
    )
    taken: list[Any] = []
    expected = after + 1
    for row in rows:
        # A missing position before a young row may belong to a transaction still committing.
        if row["position"] != expected and not row["settled"]:
            break
        taken.append(row)
        expected = row["position"] + 1
    return taken, (taken[-1]["position"] if taken else after)

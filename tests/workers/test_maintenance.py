"""Outbox pruning: only rows the relay published long ago and every active consumer has read."""

from __future__ import annotations

from app.core import db
from workers.maintenance import OUTBOX_CURSOR_TABLES, prune_outbox

HOUR = 3600.0


async def _published_rows(count: int) -> list[int]:
    """Outbox rows as the relay leaves them once published (it never touches them again)."""
    rows = await db.fetch(
        """INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at, seq, published_at)
           SELECT gen_random_uuid(), 'prune-test', 'notification.created', '{}', now(), n, now()
           FROM generate_series(1, $1) AS n RETURNING position""",
        count,
    )
    return sorted(r["position"] for r in rows)


async def _remaining(positions: list[int]) -> list[int]:
    rows = await db.fetch(
        "SELECT position FROM outbox_events WHERE position = ANY($1::bigint[]) ORDER BY position", positions
    )
    return [r["position"] for r in rows]


async def _published_ago(positions: list[int], hours: int) -> None:
    await db.fetch(
        "UPDATE outbox_events SET published_at = now() - make_interval(hours => $2)"
        " WHERE position = ANY($1::bigint[])",
        positions,
        hours,
    )


async def test_prune_keeps_what_a_consumer_still_needs_or_was_published_recently(client):
    # `client` runs the app's lifespan (the pool). Other suites' consumers must not hold these rows
    # back, so their cursors look idle for the duration of this test.
    saved = {}
    for table in OUTBOX_CURSOR_TABLES:
        saved[table] = await db.fetch(f"SELECT name, updated_at FROM {table}")
        await db.fetch(f"UPDATE {table} SET updated_at = now() - interval '3 hours'")
    try:
        first, second, third, recent = await _published_rows(4)
        await _published_ago([first, second, third], hours=2)
        await db.fetch(
            "INSERT INTO search_cursors (name, position) VALUES ('prune-test', $1)"
            " ON CONFLICT (name) DO UPDATE SET position = $1, updated_at = now()",
            second,
        )

        await prune_outbox({}, retention_s=HOUR)
        # The consumer has read up to `second`: `third` waits for it; `recent` is inside the retention.
        assert await _remaining([first, second, third, recent]) == [third, recent]

        await db.fetch("UPDATE search_cursors SET position = $1 WHERE name = 'prune-test'", recent)
        await prune_outbox({}, retention_s=HOUR)
        assert await _remaining([third, recent]) == [recent]

        # A consumer idle for longer than the retention no longer holds rows back.
        await db.fetch(
            "UPDATE search_cursors SET position = 0, updated_at = now() - interval '2 hours'"
            " WHERE name = 'prune-test'"
        )
        await _published_ago([recent], hours=2)
        assert (await prune_outbox({}, retention_s=HOUR))["outbox_events"] >= 1
        assert await _remaining([recent]) == []
    finally:
        await db.fetch("DELETE FROM search_cursors WHERE name = 'prune-test'")
        for table, rows in saved.items():
            for row in rows:
                await db.fetch(
                    f"UPDATE {table} SET updated_at = $2 WHERE name = $1", row["name"], row["updated_at"]
                )

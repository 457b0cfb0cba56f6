"""Atomic replacement of an imported dataset: COPY into staging tables, then swap in one transaction.

Readers never see a half import: the live tables change only in the final transaction, and under MVCC
every reader keeps the previous rows until that transaction commits (no reader is ever blocked; only a
second import waits, on an advisory lock). A file that would shrink the live data drastically is refused
unless forced, so a truncated download cannot empty the registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence

import asyncpg
import msgspec

from app.core.errors import AppError


class ImportRefused(AppError):
    status, code, title = 422, "import_refused", "The import was refused"


class TableLoad(msgspec.Struct, frozen=True):
    """Rows for one live table: `records` are tuples in `columns` order, consumed once, streaming."""

    table: str
    columns: tuple[str, ...]
    records: Iterable[tuple] | AsyncIterable[tuple]


# A new import must keep at least this share of the previous row count of its first table.
MIN_KEEP_RATIO = 0.5


async def replace_dataset(
    conn: asyncpg.Connection,
    dataset: str,
    loads: Sequence[TableLoad],
    *,
    source: str,
    force: bool = False,
) -> dict[str, int]:
    """Swap every table in `loads` for its new rows in one transaction; returns rows per table."""
    counts: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('atp-import:' || $1))", dataset)
        for load in loads:
            staging = f"atp_staging_{load.table}"
            await conn.execute(
                f"CREATE TEMP TABLE {staging} (LIKE {load.table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            await conn.copy_records_to_table(staging, records=load.records, columns=list(load.columns))
            counts[load.table] = await conn.fetchval(f"SELECT count(*) FROM {staging}")
        first = loads[0].table
        previous = await conn.fetchval(f"SELECT count(*) FROM {first}")
        if counts[first] == 0:
            raise ImportRefused(f"{dataset}: the new {first} is empty; nothing was replaced")
        if not force and previous and counts[first] < previous * MIN_KEEP_RATIO:
            raise ImportRefused(
                f"{dataset}: {counts[first]} rows would replace {previous} in {first}; "
                "use --force if the source really shrank"
            )
        for load in loads:
            columns = ", ".join(load.columns)
            await conn.execute(f"DELETE FROM {load.table}")
            await conn.execute(
                f"INSERT INTO {load.table} ({columns}) SELECT {columns} FROM atp_staging_{load.table}"
            )
        await conn.execute(
            """INSERT INTO verification_dataset_imports (dataset, generation, counts, source, imported_at)
               VALUES ($1, 1, $2, $3, now())
               ON CONFLICT (dataset) DO UPDATE SET generation = verification_dataset_imports.generation + 1,
                   counts = EXCLUDED.counts, source = EXCLUDED.source, imported_at = now()""",
            dataset,
            msgspec.json.encode(counts).decode(),
            source,
        )
    return counts


async def generation(conn: asyncpg.Connection, dataset: str) -> int:
    """The live import generation of `dataset` (0 when never imported)."""
    value = await conn.fetchval(
        "SELECT generation FROM verification_dataset_imports WHERE dataset = $1", dataset
    )
    return value or 0

"""`atp import rates FILE`, `atp analytics train` and `atp analytics backfill`, each on a connection of its own."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg


async def import_rates(path: Path, *, dsn: str | None = None) -> str:
    """Load an ECB rates CSV; returns a one-line summary."""
    from app.analytics.rates import RatesFileInvalid
    from app.analytics.rates import import_rates as load

    if not await asyncio.to_thread(path.is_file):
        raise SystemExit(f"{path} is not a file")
    conn = await asyncpg.connect(dsn or os.environ["DATABASE_URL"])
    started = time.monotonic()
    try:
        counts = await load(conn, path)
    except RatesFileInvalid as exc:
        raise SystemExit(f"{path}: {exc}") from None
    finally:
        await conn.close()
    detail = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    return f"rates: {detail} in {time.monotonic() - started:.1f}s"


async def run(command: str, *, max_iter: int = 300) -> str:
    from app.analytics import market, training
    from app.core.db import UnitOfWork, engine, start_pool

    await start_pool(min_size=1, max_size=2)
    try:
        async with UnitOfWork() as uow:
            added = await market.backfill(uow.conn)
        if command == "backfill":
            return f"market facts added: {added:,}"
        result = await training.train_and_store(max_iter=max_iter)
        return f"market facts added: {added:,}; " + training.describe(result)
    finally:
        await engine().close_connection_pool()

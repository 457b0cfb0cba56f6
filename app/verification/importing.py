"""`atp import faa-registry DIR` and `atp import sanctions DIR`: one command, one atomic replacement."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg

from app.verification.registry import import_registry
from app.verification.sanctions import import_sanctions

IMPORTERS = {"faa-registry": import_registry, "sanctions": import_sanctions}


async def run_import(dataset: str, directory: Path, *, force: bool = False, dsn: str | None = None) -> str:
    """Import `dataset` from `directory` on a connection of its own; returns a one-line summary."""
    if not await asyncio.to_thread(directory.is_dir):
        raise SystemExit(f"{directory} is not a directory")
    conn = await asyncpg.connect(dsn or os.environ["DATABASE_URL"])
    started = time.monotonic()
    try:
        counts = await IMPORTERS[dataset](conn, directory, force=force)
    finally:
        await conn.close()
    elapsed = time.monotonic() - started
    rows = sum(counts.values())
    detail = ", ".join(f"{table} {count:,}" for table, count in counts.items())
    return f"{dataset}: {rows:,} rows in {elapsed:.1f}s ({rows / max(elapsed, 1e-6):,.0f} rows/s): {detail}"

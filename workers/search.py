"""Search jobs: keep the Meilisearch index in step with listing events; alert saved searches."""

from __future__ import annotations

from typing import Any

INDEX_CURSOR = "meilisearch"


async def index_listing_events(ctx: dict[str, Any]) -> dict[str, int]:
    """Upsert listings changed since the last run into Meilisearch (no-op on the PostgreSQL backend).

    Idempotent and order-safe: the current row is indexed, and the backend skips any document whose
    version is not newer than the one it holds.
    """
    from app.core.db import UnitOfWork
    from app.search import feed
    from app.search.service import make_backend

    backend = ctx.get("search_backend") or make_backend()
    if backend.name == "postgres":
        return {"indexed": 0}
    async with UnitOfWork() as uow:
        after = await feed.read_position(uow.conn, INDEX_CURSOR)
        rows, position = await feed.changed_listings(uow.conn, after)
        indexed = await backend.index(rows)
        await feed.save_position(uow.conn, INDEX_CURSOR, position)
    return {"indexed": indexed}


async def evaluate_saved_searches(ctx: dict[str, Any]) -> dict[str, int]:
    """New matches and price drops since the last run become notifications."""
    from app.search.saved import evaluate_saved_searches as evaluate

    return await evaluate()

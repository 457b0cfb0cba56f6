"""Search: who may see which statuses, which backend answers, and the listings-to-index feed."""

from __future__ import annotations

import os
from typing import Any

import msgspec

from app.auth.principal import Principal
from app.listings import policy
from app.listings.state import PUBLIC
from app.search.backends.base import SearchBackend
from app.search.schemas import SearchQuery, SearchResult


def make_backend(env: dict[str, str] | None = None) -> SearchBackend:
    """Meilisearch when MEILI_URL is set, else PostgreSQL."""
    # Read here rather than in Settings so the search backend stays one self-contained switch.
    env = dict(os.environ if env is None else env)
    if env.get("MEILI_URL"):
        from app.search.backends.meili import MeiliSearch

        return MeiliSearch(env["MEILI_URL"], api_key=env.get("MEILI_MASTER_KEY") or None)
    from app.search.backends.postgres import PostgresSearch

    return PostgresSearch()


def visible_statuses(query: SearchQuery, viewer: Principal | None) -> tuple[str, ...]:
    """Public statuses by default; hidden ones (policy.HIDDEN) only for admins and their own seller."""
    statuses = list(query.statuses) or sorted(PUBLIC)
    own = viewer is not None and query.seller_id is not None and query.seller_id == viewer.user_id
    return tuple(policy.readable_statuses(statuses, viewer, own=own))


async def search(backend: SearchBackend, query: SearchQuery, viewer: Principal | None = None) -> SearchResult:
    """Run `query` on `backend` with the statuses `viewer` may see."""
    statuses = visible_statuses(query, viewer)
    if not statuses:
        return SearchResult(
            items=[], next_cursor=None, estimated_total=0, facets={f: {} for f in query.facets}
        )
    return await backend.search(msgspec.structs.replace(query, statuses=statuses))


def backend_of(state: Any) -> SearchBackend:
    """The app's backend, made on first use (no global state: it lives on `app.state`)."""
    backend = getattr(state, "search_backend", None)
    if backend is None:
        backend = make_backend()
        state.search_backend = backend
    return backend


_SEARCH_INDEXES = (
    "listings_search_document_idx",
    "listings_search_name_trgm_idx",
    "listing_search_document_idx",
    "listing_search_name_trgm_idx",
)


async def _listing_batches(conn, size: int = 2000):
    last = None
    while True:
        rows = await conn.fetch(
            "SELECT * FROM listings WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2", last, size
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


async def reindex(database_url: str, env: dict[str, str] | None = None) -> str:
    """Rebuild the search index without downtime: Meilisearch by index swap, PostgreSQL concurrently."""
    import asyncpg

    backend = make_backend(env)
    conn = await asyncpg.connect(database_url)
    try:
        if backend.name == "postgres":
            for name in _SEARCH_INDEXES:
                await conn.execute(f"REINDEX INDEX CONCURRENTLY {name}")
            return f"postgres: rebuilt {', '.join(_SEARCH_INDEXES)}"
        # Events from here on are replayed after the swap; replays are harmless (newer version wins).
        start = await conn.fetchval("SELECT coalesce(max(position), 0) FROM outbox_events")
        count = await backend.rebuild(_listing_batches(conn))
        await conn.execute(
            """INSERT INTO search_cursors (name, position) VALUES ('meilisearch', $1)
               ON CONFLICT (name) DO UPDATE SET position = $1, updated_at = now()""",
            start,
        )
        return f"meilisearch: indexed {count} listings and swapped the index in"
    finally:
        await conn.close()
        await backend.close()

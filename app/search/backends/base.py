"""The one interface every search backend implements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from app.search.schemas import SearchQuery, SearchResult


class SearchBackend(Protocol):
    """Answers searches; backends with their own index also keep it in step with listings."""

    name: str

    async def search(self, query: SearchQuery) -> SearchResult:
        """One page of matches, with estimated total and requested facets."""
        ...

    async def index(self, rows: Sequence[Any]) -> int:
        """Upsert listings rows; a row older than what the index holds is ignored. Returns how many."""
        ...

    async def remove(self, listing_ids: Sequence[uuid.UUID]) -> None:
        """Drop listings from the index."""
        ...

    async def rebuild(self, batches: Any) -> int:
        """Build a fresh index from `batches` of rows and swap it in; returns how many."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

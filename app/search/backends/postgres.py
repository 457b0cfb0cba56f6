"""PostgreSQL search: weighted tsvector + pg_trgm + catalogue aliases, keyset pages, grouped facets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.core import db
from app.core.pagination import decode_cursor, encode_cursor
from app.listings.schemas import listing_read
from app.search.backends.postgres_sql import (
    EXACT_COUNT_LIMIT,
    LISTING_SEARCH,
    LISTINGS,
    CompiledSearch,
    Table,
    Tier,
    catalogue_weight,
    compile_catalogue_tier,
    compile_search,
    count_sql,
    cursor_score,
    estimate_sql,
    facet_sql,
    filtered,
)
from app.search.normalize import ParsedQuery, parse
from app.search.schemas import SearchQuery, SearchResult

FACET_SIZE = 20
FACET_EXACT_LIMIT = 5_000
FACET_SAMPLE_ROWS = 3_000


async def _exact_count(plan: CompiledSearch) -> int:
    rows = await db.fetch(count_sql(plan), *plan.args)
    return rows[0][0]


async def _estimate(plan: CompiledSearch, exact: int) -> int:
    rows = await db.fetch(estimate_sql(plan), *plan.args)
    return max(int(json.loads(rows[0][0])[0]["Plan"]["Plan Rows"]), exact)


async def _count(plan: CompiledSearch) -> int:
    exact = await _exact_count(plan)
    return exact if exact <= EXACT_COUNT_LIMIT else await _estimate(plan, exact)


async def _facet_rows(names: Sequence[str], plan: CompiledSearch, sample: int | None) -> list[Any]:
    return await db.fetch(facet_sql(names, plan, sample), *plan.args)


def _facet_counts(
    names: Sequence[str], rows: list[Any], total: int, sample: int | None
) -> dict[str, dict[str, int]]:
    # Past the limit, counts come from the first FACET_SAMPLE_ROWS matches, scaled to the estimated
    # total: counting 90,000 rows by five keys would cost ten times the rest of the search.
    sampled = sum(r["n"] for r in rows if r["g0"] == 0)
    scale = total / sampled if sample and sampled >= sample else 1.0
    result: dict[str, dict[str, int]] = {name: {} for name in names}
    for i, name in enumerate(names):
        values = [(r[f"f{i}"], r["n"]) for r in rows if r[f"g{i}"] == 0 and r[f"f{i}"] is not None]
        values.sort(key=lambda item: (-item[1], str(item[0])))
        result[name] = {str(value): round(count * scale) for value, count in values[:FACET_SIZE]}
    return result


async def _facets(names: Sequence[str], plan: CompiledSearch, total: int) -> dict[str, dict[str, int]]:
    if not names:
        return {}
    sample = FACET_SAMPLE_ROWS if total > FACET_EXACT_LIMIT else None
    return _facet_counts(names, await _facet_rows(names, plan, sample), total, sample)


class _TextSearch:
    """A search with words, reading the narrow listing_search wherever that gives the same answer.

    Only listings has the description's words, and reading the listings that thousands of matches
    are on costs more than the rest of the search. A relevance search that names catalogue models
    or makers ranks them first, so the first pages are the top of their index ranges; a count stops
    early when the narrow table alone finds more than EXACT_COUNT_LIMIT matches; a facet sample is
    any FACET_SAMPLE_ROWS matches. Everything else is the whole search on listings.
    """

    def __init__(self, query: SearchQuery, parsed: ParsedQuery) -> None:
        self.query, self.parsed = query, parsed
        # Validates the cursor, gives the estimate, and whatever the narrow table cannot answer.
        self.general = compile_search(query, parsed=parsed)

    def _part(self, tier: Tier, *, table: Table = LISTING_SEARCH, limit: int | None = None) -> CompiledSearch:
        return compile_search(self.query, parsed=self.parsed, table=table, tier=tier, limit=limit)

    async def page(self) -> list[Any]:
        weight = catalogue_weight(self.parsed)
        if self.query.sort != "relevance" or weight is None:
            return list(await db.fetch(self.general.page_sql, *self.general.page_args))
        after = decode_cursor(self.query.cursor, 2)
        score = None if after is None else cursor_score(after[0])
        wanted = self.query.limit + 1
        rows: list[Any] = []
        ranks = bool(self.parsed.resolved.rest)
        if ranks and (score is None or score > weight):
            plan = self._part("ranked")
            rows += await db.fetch(plan.page_sql, *plan.page_args)
        # A cursor scored below the weight is past every catalogue match.
        if len(rows) < wanted and (score is None or score >= weight):
            plan = compile_catalogue_tier(
                self.query, self.parsed, unranked=ranks, limit=wanted - len(rows) - 1
            )
            rows += await db.fetch(plan.page_sql, *plan.page_args)
        if len(rows) >= wanted:
            return rows
        plan = self._part("rest", table=LISTINGS, limit=wanted - len(rows) - 1)
        return rows + list(await db.fetch(plan.page_sql, *plan.page_args))

    async def count(self) -> int:
        weight = catalogue_weight(self.parsed)
        if weight is not None and filtered(self.query, self.parsed):
            # Counting the named models stops early by reading the index alone; with other filters it
            # reads rows, and the matches are usually too few to stop early: count them once, exactly.
            return await _count(self.general)
        exact = await _exact_count(self._part("indexed" if weight is None else "catalogue"))
        if exact > EXACT_COUNT_LIMIT:
            return await _estimate(self.general, exact)
        return await _count(self.general)

    async def facets(self, names: Sequence[str], total: int) -> dict[str, dict[str, int]]:
        if names and total > FACET_EXACT_LIMIT:
            rows = await _facet_rows(names, self._part("indexed"), FACET_SAMPLE_ROWS)
            if sum(r["n"] for r in rows if r["g0"] == 0) >= FACET_SAMPLE_ROWS:
                return _facet_counts(names, rows, total, FACET_SAMPLE_ROWS)
        return await _facets(names, self.general, total)


class PostgresSearch:
    """The default backend: always consistent, since it reads listings and their copy in one database."""

    name = "postgres"

    async def search(self, query: SearchQuery) -> SearchResult:
        after = decode_cursor(query.cursor, 2)
        # A cursor remembers (by a '~' on its id) that its search fell back to trigram matching.
        fuzzy = after is not None and str(after[1]).startswith("~")
        parsed = parse(query.q)
        # Without words, or matching names by trigrams, a search is all on the narrow copy.
        text = _TextSearch(query, parsed) if parsed.words and not fuzzy else None
        # The page and the count run side by side on two pooled connections.
        if text is not None:
            plan = text.general
            rows, total = await asyncio.gather(text.page(), text.count())
        else:
            plan = compile_search(query, fuzzy=fuzzy, table=LISTING_SEARCH, parsed=parsed)
            rows, total = await asyncio.gather(db.fetch(plan.page_sql, *plan.page_args), _count(plan))
        if not rows and after is None and query.q.strip() and not fuzzy:
            # No word-for-word match: a second, trigram pass over names ("gulfstrem", "pilatsu").
            fuzzy, text = True, None
            plan = compile_search(query, fuzzy=True, table=LISTING_SEARCH, parsed=parsed)
            rows, total = await asyncio.gather(db.fetch(plan.page_sql, *plan.page_args), _count(plan))
        if text is not None:
            facets = await text.facets(query.facets, total)
        else:
            facets = await _facets(query.facets, plan, total)
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1][plan.sort_alias]
            if isinstance(last, datetime):
                last = last.isoformat()
            elif isinstance(last, Decimal):
                last = str(last)
            next_cursor = encode_cursor([last, ("~" if fuzzy else "") + str(rows[-1]["id"])])
        return SearchResult(
            items=[listing_read(r) for r in rows],
            next_cursor=next_cursor,
            estimated_total=total,
            facets=facets,
        )

    async def index(self, rows: Sequence[Any]) -> int:
        """Nothing to do: the search columns and listing_search change with the row, in its transaction."""
        return 0

    async def remove(self, listing_ids: Sequence[uuid.UUID]) -> None:
        """Nothing to do: the status filter hides withdrawn listings."""

    async def rebuild(self, batches: Any) -> int:
        """Nothing to do: the indexes are the tables' own."""
        return 0

    async def close(self) -> None:
        """Nothing to release: the shared pool belongs to the app."""

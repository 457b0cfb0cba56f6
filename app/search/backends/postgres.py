"""PostgreSQL search: weighted tsvector + pg_trgm + catalogue aliases, keyset pages, grouped facets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from app.core import db
from app.core.errors import ValidationFailed
from app.core.pagination import decode_cursor, encode_cursor
from app.listings.schemas import listing_read
from app.search.normalize import ParsedQuery, parse
from app.search.schemas import SearchQuery, SearchResult

# Past this many matches the total is the planner's estimate: counting 90,000 rows costs more
# than the whole rest of the search, and nobody pages that far.
EXACT_COUNT_LIMIT = 1_000
FACET_SIZE = 20
FACET_EXACT_LIMIT = 5_000
FACET_SAMPLE_ROWS = 3_000

_FACET_COLUMNS = {
    "manufacturer": "manufacturer",
    "model": "model",
    "year": "year_manufactured::text",
    "country": "location_country",
    "engineType": "specifications ->> 'engineType'",
}


def _cursor_int(value: Any) -> int:
    if not isinstance(value, int) or not -(2**31) < value < 2**31:
        raise ValueError("not an int4")
    return value


def _cursor_amount(value: Any) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 13:
        raise ValueError("not a price")
    return amount


def _cursor_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive timestamp")
    return moment


def _cursor_score(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise ValueError("not a score")
    return float(value)


# sort -> (ORDER BY expression, descending, cursor value parser); parsers reject what PostgreSQL would.
_SORTS: dict[str, tuple[str, bool, Any]] = {
    "newest": ("created_at", True, _cursor_time),
    "price_asc": ("price", False, _cursor_amount),
    "price_desc": ("price", True, _cursor_amount),
    "year_desc": ("year_manufactured", True, _cursor_int),
    "hours_asc": ("hours_total", False, _cursor_int),
}
# Every column but the search ones: a tsvector per row would double what travels and is decoded.
_LISTING_COLUMNS = (
    "id, seller, manufacturer, model, year_manufactured, tail_number, hours_total, price, currency, "
    "location_country, location_city, description, status, featured, specifications, images, version, "
    "created_at, updated_at"
)
# The same expression as listings_description_fts_idx, so that index serves it.
_DESCRIPTION_VECTOR = (
    "to_tsvector('simple'::regconfig, atp_normalize(left(description, 4000) || ' ' || location_city))"
)
_GEO = "ll_to_earth((specifications ->> 'latitude')::float8, (specifications ->> 'longitude')::float8)"
_MATCH_WEIGHT_MODEL = 4.0
_MATCH_WEIGHT_MAKER = 2.0


class _Sql:
    """Collects WHERE clauses with numbered parameters."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed("cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}])


def _merge(query: SearchQuery, parsed: ParsedQuery) -> dict[str, Any]:
    """Explicit filters win over phrases found in the text ("under 3m" only fills a gap)."""
    return {
        "price_min": query.price_min if query.price_min is not None else parsed.price_min,
        "price_max": query.price_max if query.price_max is not None else parsed.price_max,
        "year_min": query.year_min if query.year_min is not None else parsed.year_min,
        "year_max": query.year_max if query.year_max is not None else parsed.year_max,
    }


def _filters(sql: _Sql, query: SearchQuery, parsed: ParsedQuery) -> None:
    sql.where.append(f"status = ANY({sql.arg(list(query.statuses))}::text[])")
    merged = _merge(query, parsed)
    if query.manufacturer:
        sql.where.append(f"lower(manufacturer) = lower({sql.arg(query.manufacturer)})")
    if query.model:
        sql.where.append(f"lower(model) = lower({sql.arg(query.model)})")
    for column, op, value in (
        ("year_manufactured", ">=", merged["year_min"]),
        ("year_manufactured", "<=", merged["year_max"]),
        ("price", ">=", merged["price_min"]),
        ("price", "<=", merged["price_max"]),
        ("hours_total", "<=", query.hours_max),
        ("(specifications ->> 'maxPassengers')::int", ">=", query.seats_min),
        ("(specifications ->> 'maxRangeNm')::int", ">=", query.range_min),
    ):
        if value is not None:
            sql.where.append(f"{column} {op} {sql.arg(value)}")
    if query.country:
        sql.where.append(f"location_country = {sql.arg(query.country.upper())}")
    if query.engine_type:
        sql.where.append(f"specifications ->> 'engineType' = {sql.arg(query.engine_type)}")
    if query.seller_id:
        sql.where.append(f"seller = {sql.arg(query.seller_id)}")
    if query.listing_ids:
        sql.where.append(f"id = ANY({sql.arg(list(query.listing_ids))}::uuid[])")
    if query.near is not None and query.radius_km is not None:
        center = f"ll_to_earth({sql.arg(query.near[0])}::float8, {sql.arg(query.near[1])}::float8)"
        radius = f"{sql.arg(query.radius_km * 1000.0)}::float8"
        # The box test uses the GiST index; the distance test trims its corners.
        sql.where.append(
            f"earth_box({center}, {radius}) @> {_GEO} AND earth_distance({center}, {_GEO}) <= {radius}"
        )


def _model_match(sql: _Sql, parsed: ParsedQuery) -> tuple[str | None, str | None]:
    resolved = parsed.resolved
    model_match = maker_match = None
    if resolved.models:
        makers = sql.arg(sorted({m.manufacturer.lower() for m in resolved.models}))
        models = sql.arg(sorted({m.model.lower() for m in resolved.models}))
        model_match = (
            f"(lower(model) = ANY({models}::text[]) AND lower(manufacturer) = ANY({makers}::text[]))"
        )
    if resolved.manufacturers:
        maker_match = f"lower(manufacturer) = ANY({sql.arg(sorted(resolved.manufacturers))}::text[])"
    return model_match, maker_match


def _text_where(sql: _Sql, parsed: ParsedQuery, *, fuzzy: bool = False) -> None:
    """Which listings a text query matches: its catalogue models, or all its words, or a near name."""
    if not parsed.words:
        return
    text = f"{sql.arg(parsed.text)}::text"
    tsquery = f"plainto_tsquery('simple', {text})"
    matches = [f"search_document @@ {tsquery}", f"{_DESCRIPTION_VECTOR} @@ {tsquery}"]
    model_match, maker_match = _model_match(sql, parsed)
    matches += [m for m in (model_match, maker_match) if m]
    if fuzzy:
        # Nothing matched word for word: trigram similarity on the name catches typos of makes and
        # models the catalogue does not know; the GIN trigram index serves it.
        matches = [f"{text} <% search_name"]
    sql.where.append("(" + " OR ".join(matches) + ")")


def _text_score(sql: _Sql, parsed: ParsedQuery, *, fuzzy: bool = False) -> str | None:
    """The relevance of a matched listing; its parameters come after those of the WHERE clause."""
    if not parsed.words:
        return None
    resolved = parsed.resolved
    score: list[str] = []
    model_match, maker_match = _model_match(sql, parsed)
    if model_match:
        score.append(f"CASE WHEN {model_match} THEN {_MATCH_WEIGHT_MODEL} ELSE 0 END")
    if maker_match:
        score.append(f"CASE WHEN {maker_match} THEN {_MATCH_WEIGHT_MAKER} ELSE 0 END")
    if fuzzy:
        score.append(f"word_similarity({sql.arg(parsed.text)}::text, search_name)")
    elif resolved.rest:
        # Words beyond the model only rank: "cessna 172 g1000" still lists 172s without a G1000.
        rest = f"{sql.arg(' '.join(resolved.rest))}::text"
        score.append(
            f"ts_rank(search_document, replace(plainto_tsquery('simple', {rest})::text, '&', '|')::tsquery)"
        )
    return "(" + " + ".join(score) + ")::float8"


def _order(sql: _Sql, query: SearchQuery, score: str | None) -> tuple[str, str, bool]:
    """(ORDER BY key expression, its alias, descending), with the cursor's keyset condition added."""
    if query.sort == "relevance" and score is not None:
        key, descending, parse_key = score, True, _cursor_score
    else:
        key, descending, parse_key = _SORTS["newest" if query.sort == "relevance" else query.sort]
    after = decode_cursor(query.cursor, 2)
    if after is not None:
        try:
            value, last_id = parse_key(after[0]), uuid.UUID(str(after[1]).removeprefix("~"))
        except (ValueError, TypeError, ArithmeticError):
            raise _invalid_cursor() from None
        cast = "::float8" if parse_key is _cursor_score else ""
        op = "<" if descending else ">"
        sql.where.append(f"({key}, id) {op} ({sql.arg(value)}{cast}, {sql.arg(last_id)})")
    return key, "sort_key", descending


async def _count(where: str, args: list[Any]) -> int:
    rows = await db.fetch(
        f"SELECT count(*) FROM (SELECT 1 FROM listings WHERE {where} LIMIT {EXACT_COUNT_LIMIT + 1}) s", *args
    )
    exact = rows[0][0]
    if exact <= EXACT_COUNT_LIMIT:
        return exact
    plan = await db.fetch(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM listings WHERE {where}", *args)
    estimate = int(json.loads(plan[0][0])[0]["Plan"]["Plan Rows"])
    return max(estimate, exact)


def facet_sql(names: Sequence[str], where: str, sample_rows: int | None = None) -> str:
    """One scan, one GROUPING SETS pass for every requested facet."""
    columns = [f"{_FACET_COLUMNS[n]} AS f{i}" for i, n in enumerate(names)]
    sets = ", ".join(f"(f{i})" for i in range(len(names)))
    flags = ", ".join(f"GROUPING(f{i}) AS g{i}" for i in range(len(names)))
    fields = ", ".join(f"f{i}" for i in range(len(names)))
    limit = f" LIMIT {int(sample_rows)}" if sample_rows else ""
    return (
        f"SELECT {fields}, {flags}, count(*) AS n FROM (SELECT {', '.join(columns)} FROM listings "
        f"WHERE {where}{limit}) m GROUP BY GROUPING SETS ({sets})"
    )


async def _facets(names: Sequence[str], where: str, args: list[Any], total: int) -> dict[str, dict[str, int]]:
    if not names:
        return {}
    sample = FACET_SAMPLE_ROWS if total > FACET_EXACT_LIMIT else None
    rows = await db.fetch(facet_sql(names, where, sample), *args)
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


class CompiledSearch(NamedTuple):
    """The SQL of one search: the page query, and the filter its count and facets share."""

    page_sql: str
    page_args: list[Any]
    where: str
    args: list[Any]
    sort_alias: str


def compile_search(query: SearchQuery, *, fuzzy: bool = False) -> CompiledSearch:
    """Translate `query` (statuses already decided) into SQL; `fuzzy` matches names by trigrams."""
    parsed = parse(query.q)
    sql = _Sql()
    _filters(sql, query, parsed)
    _text_where(sql, parsed, fuzzy=fuzzy)
    where, args = " AND ".join(sql.where), list(sql.args)
    score = _text_score(sql, parsed, fuzzy=fuzzy) if query.sort == "relevance" else None
    key, alias, descending = _order(sql, query, score)
    order = "DESC" if descending else "ASC"
    # Deferred join: rank narrow (id, key) tuples, then read whole rows for the page only; sorting
    # thousands of 1 kB rows cost more than finding them.
    columns = ", ".join(f"l.{c.strip()}" for c in _LISTING_COLUMNS.split(","))
    page_sql = (
        f"SELECT {columns}, p.{alias} FROM (SELECT id, {key} AS {alias} FROM listings "
        f"WHERE {' AND '.join(sql.where)} ORDER BY {key} {order}, id {order} LIMIT {sql.arg(query.limit + 1)}) p "
        f"JOIN listings l ON l.id = p.id ORDER BY p.{alias} {order}, p.id {order}"
    )
    return CompiledSearch(page_sql, sql.args, where, args, alias)


class PostgresSearch:
    """The default backend: always consistent, since it reads the listings table itself."""

    name = "postgres"

    async def search(self, query: SearchQuery) -> SearchResult:
        after = decode_cursor(query.cursor, 2)
        # A cursor remembers (by a '~' on its id) that its search fell back to trigram matching.
        fuzzy = after is not None and str(after[1]).startswith("~")
        plan = compile_search(query, fuzzy=fuzzy)
        # The page and the count run side by side on two pooled connections.
        rows, total = await asyncio.gather(
            db.fetch(plan.page_sql, *plan.page_args), _count(plan.where, plan.args)
        )
        if not rows and after is None and query.q.strip() and not fuzzy:
            # No word-for-word match: a second, trigram pass over names ("gulfstrem", "pilatsu").
            fuzzy = True
            plan = compile_search(query, fuzzy=True)
            rows, total = await asyncio.gather(
                db.fetch(plan.page_sql, *plan.page_args), _count(plan.where, plan.args)
            )
        facets = await _facets(query.facets, plan.where, plan.args, total)
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
        """Nothing to do: the generated search columns change with the row."""
        return 0

    async def remove(self, listing_ids: Sequence[uuid.UUID]) -> None:
        """Nothing to do: the status filter hides withdrawn listings."""

    async def rebuild(self, batches: Any) -> int:
        """Nothing to do: the indexes are the table's own."""
        return 0

    async def close(self) -> None:
        """Nothing to release: the shared pool belongs to the app."""

"""The SQL of a PostgreSQL search: filters, text match, relevance, keyset order, counts and facets (pure)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from app.core.errors import ValidationFailed
from app.core.pagination import decode_cursor
from app.search.aliases import category_models
from app.search.normalize import ParsedQuery, parse
from app.search.schemas import SearchQuery
from db.fixtures.catalogue import MODELS

# Past this many matches the total is the planner's estimate: counting 90,000 rows costs more
# than the whole rest of the search, and nobody pages that far.
EXACT_COUNT_LIMIT = 1_000


class Table(NamedTuple):
    """Where a search reads, and how that table spells the fields listings keep in `specifications`."""

    name: str
    maker: str
    model: str
    engine_type: str
    seats: str
    range_nm: str
    geo: str


LISTINGS = Table(
    "listings",
    "lower(manufacturer)",
    "lower(model)",
    "specifications ->> 'engineType'",
    "(specifications ->> 'maxPassengers')::int",
    "(specifications ->> 'maxRangeNm')::int",
    "ll_to_earth((specifications ->> 'latitude')::float8, (specifications ->> 'longitude')::float8)",
)
# The search domain's narrow copy of listings (a trigger keeps it in the same transaction): everything
# but the description's words, in rows a quarter the size, so ranking, counting and facets read less.
LISTING_SEARCH = Table(
    "listing_search",
    "maker_key",
    "model_key",
    "engine_type",
    "max_passengers",
    "max_range_nm",
    "ll_to_earth(latitude, longitude)",
)

# Parts of the matches of a text search. A relevance search that names catalogue models or makers
# ranks them first (ts_rank stays below 2, the smaller weight), so its pages are read part by part:
# "ranked" = the named models whose equipment has one of the words beyond the model, by rank; then
# the named models with none of those words (one score: compile_catalogue_tier); then "rest" =
# every other match. "catalogue" = the named models; "indexed" = every match but those only the
# description's words find: the parts the narrow table sees alone.
Tier = Literal["ranked", "rest", "catalogue", "indexed"]


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


def cursor_score(value: Any) -> float:
    """The relevance score packed in a cursor; ValueError when it is not one."""
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
    "location_country, location_city, description, status, featured, verified, specifications, images, version, "
    "created_at, updated_at"
)
# The same expression as listings_description_fts_idx, so that index serves it.
_DESCRIPTION_VECTOR = (
    "to_tsvector('simple'::regconfig, atp_normalize(left(description, 4000) || ' ' || location_city))"
)
MATCH_WEIGHT_MODEL = 4.0
MATCH_WEIGHT_MAKER = 2.0


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


def _filters(sql: _Sql, query: SearchQuery, parsed: ParsedQuery, table: Table) -> None:
    sql.where.append(f"status = ANY({sql.arg(list(query.statuses))}::text[])")
    merged = _merge(query, parsed)
    if query.manufacturer:
        sql.where.append(f"{table.maker} = lower({sql.arg(query.manufacturer)})")
    if query.model:
        sql.where.append(f"{table.model} = lower({sql.arg(query.model)})")
    for column, op, value in (
        ("year_manufactured", ">=", merged["year_min"]),
        ("year_manufactured", "<=", merged["year_max"]),
        ("price", ">=", merged["price_min"]),
        ("price", "<=", merged["price_max"]),
        ("hours_total", "<=", query.hours_max),
        (table.seats, ">=", query.seats_min),
        (table.range_nm, ">=", query.range_min),
    ):
        if value is not None:
            sql.where.append(f"{column} {op} {sql.arg(value)}")
    if query.country:
        sql.where.append(f"location_country = {sql.arg(query.country.upper())}")
    if query.engine_type:
        sql.where.append(f"{table.engine_type} = {sql.arg(query.engine_type)}")
    if query.category:
        kinds = category_models(query.category)
        makers = sql.arg(sorted({m.manufacturer.lower() for m in kinds}))
        models = sql.arg(sorted({m.model.lower() for m in kinds}))
        sql.where.append(f"({table.model} = ANY({models}::text[]) AND {table.maker} = ANY({makers}::text[]))")
    if query.seller_id:
        sql.where.append(f"seller = {sql.arg(query.seller_id)}")
    if query.listing_ids:
        sql.where.append(f"id = ANY({sql.arg(list(query.listing_ids))}::uuid[])")
    if query.near is not None and query.radius_km is not None:
        center = f"ll_to_earth({sql.arg(query.near[0])}::float8, {sql.arg(query.near[1])}::float8)"
        radius = f"{sql.arg(query.radius_km * 1000.0)}::float8"
        # The box test uses the GiST index; the distance test trims its corners.
        geo = table.geo
        sql.where.append(
            f"earth_box({center}, {radius}) @> {geo} AND earth_distance({center}, {geo}) <= {radius}"
        )


def _model_match(sql: _Sql, parsed: ParsedQuery, table: Table) -> tuple[str | None, str | None]:
    resolved = parsed.resolved
    model_match = maker_match = None
    if resolved.models:
        makers = sql.arg(sorted({m.manufacturer.lower() for m in resolved.models}))
        models = sql.arg(sorted({m.model.lower() for m in resolved.models}))
        model_match = f"({table.model} = ANY({models}::text[]) AND {table.maker} = ANY({makers}::text[]))"
    if resolved.manufacturers:
        maker_match = f"{table.maker} = ANY({sql.arg(sorted(resolved.manufacturers))}::text[])"
    return model_match, maker_match


def _rest_query(sql: _Sql, parsed: ParsedQuery) -> str:
    """Any of the words beyond the model, as a tsquery."""
    rest = f"{sql.arg(' '.join(parsed.resolved.rest))}::text"
    return f"replace(plainto_tsquery('simple', {rest})::text, '&', '|')::tsquery"


def _text_where(
    sql: _Sql, parsed: ParsedQuery, table: Table, *, fuzzy: bool = False, description: bool = True
) -> None:
    """Which listings a text query matches: its catalogue models, or all its words, or a near name."""
    if not parsed.words:
        return
    if parsed.resolved.kinds and parsed.resolved.models:
        # "jet", "helicopter": the models of that kind, not every listing whose text has the word
        # (the Bell 505 *Jet* Ranger is no jet).
        model_match, _ = _model_match(sql, parsed, table)
        sql.where.append(f"({model_match})")
        return
    text = f"{sql.arg(parsed.text)}::text"
    if fuzzy:
        # Nothing matched word for word: trigram similarity on the name catches typos of makes and
        # models the catalogue does not know; the GIN trigram index serves it. No other condition
        # may bind parameters here: PostgreSQL refuses arguments the statement does not use.
        sql.where.append(f"({text} <% search_name)")
        return
    tsquery = f"plainto_tsquery('simple', {text})"
    matches = [f"search_document @@ {tsquery}"]
    if description:
        matches.append(f"{_DESCRIPTION_VECTOR} @@ {tsquery}")
    model_match, maker_match = _model_match(sql, parsed, table)
    matches += [m for m in (model_match, maker_match) if m]
    sql.where.append("(" + " OR ".join(matches) + ")")


def _tier_where(sql: _Sql, parsed: ParsedQuery, table: Table, tier: Tier) -> None:
    """The part `tier` of the matches of a catalogue search, beyond the text condition (see Tier)."""
    model_match, maker_match = _model_match(sql, parsed, table)
    match = model_match or maker_match
    if tier == "rest":
        sql.where.append(f"NOT ({match})")
    elif tier == "catalogue":
        sql.where.append(f"({match})")
    elif tier == "ranked":
        # ts_rank > 0 exactly when the vector has one of the words.
        sql.where.append(f"({match}) AND search_document @@ {_rest_query(sql, parsed)}")


def _text_score(sql: _Sql, parsed: ParsedQuery, table: Table, *, fuzzy: bool = False) -> str | None:
    """The relevance of a matched listing; its parameters come after those of the WHERE clause."""
    if not parsed.words:
        return None
    resolved = parsed.resolved
    score: list[str] = []
    model_match, maker_match = _model_match(sql, parsed, table)
    if model_match:
        score.append(f"CASE WHEN {model_match} THEN {MATCH_WEIGHT_MODEL} ELSE 0 END")
    if maker_match:
        score.append(f"CASE WHEN {maker_match} THEN {MATCH_WEIGHT_MAKER} ELSE 0 END")
    if fuzzy:
        score.append(f"word_similarity({sql.arg(parsed.text)}::text, search_name)")
    elif resolved.rest:
        # Words beyond the model only rank: "cessna 172 g1000" still lists 172s without a G1000.
        score.append(f"ts_rank(search_document, {_rest_query(sql, parsed)})")
    return "(" + " + ".join(score) + ")::float8"


def _order(sql: _Sql, query: SearchQuery, score: str | None) -> tuple[str, str, bool]:
    """(ORDER BY key expression, its alias, descending), with the cursor's keyset condition added."""
    if query.sort == "relevance" and score is not None:
        key, descending, parse_key = score, True, cursor_score
    else:
        key, descending, parse_key = _SORTS["newest" if query.sort == "relevance" else query.sort]
    after = decode_cursor(query.cursor, 2)
    if after is not None:
        try:
            value, last_id = parse_key(after[0]), uuid.UUID(str(after[1]).removeprefix("~"))
        except (ValueError, TypeError, ArithmeticError):
            raise _invalid_cursor() from None
        cast = "::float8" if parse_key is cursor_score else ""
        op = "<" if descending else ">"
        sql.where.append(f"({key}, id) {op} ({sql.arg(value)}{cast}, {sql.arg(last_id)})")
    return key, "sort_key", descending


def filtered(query: SearchQuery, parsed: ParsedQuery) -> bool:
    """Whether `query` narrows its matches beyond the statuses (filters, or phrases like "under 3m")."""
    sql = _Sql()
    _filters(sql, query, parsed, LISTINGS)
    return len(sql.where) > 1


def catalogue_weight(parsed: ParsedQuery) -> float | None:
    """The score a catalogue match adds for this query, or None when it names no model or maker."""
    if parsed.resolved.models:
        return MATCH_WEIGHT_MODEL
    if parsed.resolved.manufacturers:
        return MATCH_WEIGHT_MAKER
    return None


class CompiledSearch(NamedTuple):
    """The SQL of one search: the page query, and the filter its count and facets share."""

    page_sql: str
    page_args: list[Any]
    where: str
    args: list[Any]
    sort_alias: str
    table: Table


def compile_search(
    query: SearchQuery,
    *,
    fuzzy: bool = False,
    table: Table = LISTINGS,
    tier: Tier | None = None,
    parsed: ParsedQuery | None = None,
    limit: int | None = None,
) -> CompiledSearch:
    """Translate `query` (statuses already decided) into SQL on `table`; `fuzzy` matches names by
    trigrams; `tier` keeps one part of a catalogue search's matches; `limit` rows (+1) per page."""
    parsed = parsed or parse(query.q)
    sql = _Sql()
    _filters(sql, query, parsed, table)
    if tier in ("ranked", "catalogue"):
        _tier_where(sql, parsed, table, tier)  # named models match by definition: no text condition
    else:
        # The description's words are only on listings; "indexed" is the part the narrow table sees.
        description = tier != "indexed"
        if description and parsed.words and not fuzzy and table is not LISTINGS:
            raise ValueError(f"{table.name} cannot match the description's words")
        _text_where(sql, parsed, table, fuzzy=fuzzy, description=description)
        if tier == "rest":
            _tier_where(sql, parsed, table, tier)
    where, args = " AND ".join(sql.where), list(sql.args)
    score = _text_score(sql, parsed, table, fuzzy=fuzzy) if query.sort == "relevance" else None
    key, alias, descending = _order(sql, query, score)
    order = "DESC" if descending else "ASC"
    # Deferred join: rank narrow (id, key) tuples, then read whole rows for the page only; sorting
    # thousands of 1 kB rows cost more than finding them.
    columns = ", ".join(f"l.{c.strip()}" for c in _LISTING_COLUMNS.split(","))
    rows = (query.limit if limit is None else limit) + 1
    page_sql = (
        f"SELECT {columns}, p.{alias} FROM (SELECT id, {key} AS {alias} FROM {table.name} "
        f"WHERE {' AND '.join(sql.where)} ORDER BY {key} {order}, id {order} LIMIT {sql.arg(rows)}) p "
        f"JOIN listings l ON l.id = p.id ORDER BY p.{alias} {order}, p.id {order}"
    )
    return CompiledSearch(page_sql, sql.args, where, args, alias, table)


def compile_catalogue_tier(
    query: SearchQuery, parsed: ParsedQuery, *, unranked: bool, limit: int
) -> CompiledSearch:
    """The page of the named models of a relevance search (with none of the words beyond the model
    when `unranked`): one score, so id order, one backward index range per (maker, model) pair.

    The caller skips it when the cursor's score is below the catalogue weight.
    """
    weight = catalogue_weight(parsed)
    if weight is None:
        raise ValueError("the query names no catalogue model or maker")
    sql = _Sql()
    _filters(sql, query, parsed, LISTING_SEARCH)
    if unranked:
        sql.where.append(f"NOT search_document @@ {_rest_query(sql, parsed)}")
    after = decode_cursor(query.cursor, 2)
    if after is not None:
        try:
            value, last_id = cursor_score(after[0]), uuid.UUID(str(after[1]))
        except (ValueError, TypeError):
            raise _invalid_cursor() from None
        if value == weight:
            sql.where.append(f"id < {sql.arg(last_id)}")
    where, args = " AND ".join(sql.where), list(sql.args)
    resolved = parsed.resolved
    if resolved.models:
        # Every (maker, model) pair, as the ANY x ANY of the general match has it.
        makers = sorted({m.manufacturer.lower() for m in resolved.models})
        models = sorted({m.model.lower() for m in resolved.models})
        branches = [f"maker_key = {sql.arg(a)} AND model_key = {sql.arg(b)}" for a in makers for b in models]
    else:
        branches = [f"maker_key = {sql.arg(maker)}" for maker in sorted(resolved.manufacturers)]
    rows = sql.arg(limit + 1)
    inner = " UNION ALL ".join(
        f"(SELECT id FROM listing_search WHERE {where} AND {branch} ORDER BY id DESC LIMIT {rows})"
        for branch in branches
    )
    columns = ", ".join(f"l.{c.strip()}" for c in _LISTING_COLUMNS.split(","))
    page_sql = (
        f"SELECT {columns}, {weight}::float8 AS sort_key FROM (SELECT id FROM ({inner}) b "
        f"ORDER BY id DESC LIMIT {rows}) p JOIN listings l ON l.id = p.id ORDER BY p.id DESC"
    )
    return CompiledSearch(page_sql, sql.args, where, args, "sort_key", LISTING_SEARCH)


def count_sql(plan: CompiledSearch) -> str:
    """Counts the matches of `plan`, up to one past EXACT_COUNT_LIMIT."""
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM {plan.table.name} WHERE {plan.where} "
        f"LIMIT {EXACT_COUNT_LIMIT + 1}) s"
    )


def estimate_sql(plan: CompiledSearch) -> str:
    """The planner's view of the matches of `plan`, for an estimated total."""
    return f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {plan.table.name} WHERE {plan.where}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@functools.cache
def _category_case(maker: str, model: str) -> str:
    """The catalogue category of a row as SQL: one CASE over the catalogue's (maker, model) keys."""
    arms = " ".join(
        f"WHEN {_literal(entry.manufacturer.lower() + '|' + entry.model.lower())} THEN {_literal(entry.category)}"
        for entry in MODELS
    )
    return f"(CASE {maker} || '|' || {model} {arms} END)"


def _facet_columns(table: Table) -> dict[str, str]:
    return {
        "manufacturer": "manufacturer",
        "model": "model",
        "year": "year_manufactured::text",
        "country": "location_country",
        "engineType": table.engine_type,
        "category": _category_case(table.maker, table.model),
    }


def facet_sql(names: Sequence[str], plan: CompiledSearch, sample_rows: int | None = None) -> str:
    """One scan, one GROUPING SETS pass for every requested facet."""
    facet_columns = _facet_columns(plan.table)
    columns = [f"{facet_columns[n]} AS f{i}" for i, n in enumerate(names)]
    sets = ", ".join(f"(f{i})" for i in range(len(names)))
    flags = ", ".join(f"GROUPING(f{i}) AS g{i}" for i in range(len(names)))
    fields = ", ".join(f"f{i}" for i in range(len(names)))
    limit = f" LIMIT {int(sample_rows)}" if sample_rows else ""
    return (
        f"SELECT {fields}, {flags}, count(*) AS n FROM (SELECT {', '.join(columns)} FROM {plan.table.name} "
        f"WHERE {plan.where}{limit}) m GROUP BY GROUPING SETS ({sets})"
    )

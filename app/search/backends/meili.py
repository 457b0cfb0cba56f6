"""Meilisearch backend over its HTTP API (httpx): same query and response contract as PostgreSQL.

Meilisearch holds only what it needs to find and order listings; the listings returned are read
back from PostgreSQL by id, so a page never shows stale prices or statuses for long.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterable, Sequence
from typing import Any

import httpx

from app.core import db
from app.core.errors import ValidationFailed
from app.core.pagination import decode_cursor, encode_cursor
from app.listings.schemas import listing_read
from app.search.aliases import MANUFACTURER_ALIASES, category_models, compact, fold
from app.search.normalize import parse
from app.search.schemas import SearchQuery, SearchResult
from db.fixtures.catalogue import MODELS, find_model

_FACETS = {
    "manufacturer": "manufacturer",
    "model": "model",
    "year": "yearManufactured",
    "country": "locationCountry",
    "engineType": "engineType",
    "category": "category",
}
_SORTS = {
    "newest": ["createdAt:desc", "id:desc"],
    "price_asc": ["price:asc", "id:asc"],
    "price_desc": ["price:desc", "id:desc"],
    "year_desc": ["yearManufactured:desc", "id:desc"],
    "hours_asc": ["hoursTotal:asc", "id:asc"],
}
SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["name", "aliases", "compactNames", "avionics", "description", "locationCity"],
    "filterableAttributes": [
        "status",
        "manufacturerKey",
        "modelKey",
        "yearManufactured",
        "price",
        "hoursTotal",
        "seats",
        "rangeNm",
        "locationCountry",
        "engineType",
        "category",
        "sellerId",
        "_geo",
        "manufacturer",
        "model",
    ],
    "sortableAttributes": ["price", "yearManufactured", "hoursTotal", "createdAt", "id", "_geo"],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 4, "twoTypos": 8}},
    "pagination": {"maxTotalHits": 10_000},
    "faceting": {"maxValuesPerFacet": 100},
}


def synonyms() -> dict[str, list[str]]:
    """Catalogue aliases as Meilisearch synonyms: 'skyhawk' → '172 skyhawk', 'beech' → 'beechcraft'."""
    table: dict[str, set[str]] = {}
    for model in MODELS:
        name = fold(model.model)
        for alias in model.aliases:
            table.setdefault(fold(alias), set()).add(name)
    for nickname, maker in MANUFACTURER_ALIASES.items():
        table.setdefault(nickname, set()).add(maker)
    return {word: sorted(names - {word}) for word, names in table.items() if names - {word}}


def document(row: Any) -> dict[str, Any]:
    """The indexed form of one listings row."""
    listing = listing_read(row)
    specs = listing.specifications
    entry = find_model(listing.manufacturer, listing.model)
    aliases = list(entry.aliases) if entry else []
    doc: dict[str, Any] = {
        "id": str(listing.id),
        "name": f"{listing.manufacturer} {listing.model}",
        "manufacturer": listing.manufacturer,
        "model": listing.model,
        "manufacturerKey": listing.manufacturer.lower(),
        "modelKey": listing.model.lower(),
        "aliases": aliases,
        # "pc12" must find "PC-12/45": index the punctuation-free spellings too.
        "compactNames": sorted({compact(listing.model), *(compact(a) for a in aliases)}),
        "avionics": specs.avionics,
        "description": listing.description,
        "locationCity": listing.location_city,
        "locationCountry": listing.location_country,
        "yearManufactured": listing.year_manufactured,
        "price": float(listing.price),
        "hoursTotal": listing.hours_total,
        "seats": specs.max_passengers,
        "rangeNm": specs.max_range_nm,
        "engineType": specs.engine_type,
        "category": entry.category if entry else None,
        "status": listing.status,
        "sellerId": str(listing.seller_id),
        "createdAt": listing.created_at.timestamp(),
        "version": listing.version,
    }
    if specs.latitude is not None and specs.longitude is not None:
        doc["_geo"] = {"lat": specs.latitude, "lng": specs.longitude}
    return doc


def _quote(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def filters(query: SearchQuery) -> list[str]:
    """The Meilisearch filter expressions of `query`, phrases in `q` included."""
    parsed = parse(query.q)
    price_min = query.price_min if query.price_min is not None else parsed.price_min
    price_max = query.price_max if query.price_max is not None else parsed.price_max
    year_min = query.year_min if query.year_min is not None else parsed.year_min
    year_max = query.year_max if query.year_max is not None else parsed.year_max
    out = [f"status IN [{', '.join(_quote(s) for s in query.statuses)}]"]
    for field, op, value in (
        ("yearManufactured", ">=", year_min),
        ("yearManufactured", "<=", year_max),
        ("price", ">=", price_min),
        ("price", "<=", price_max),
        ("hoursTotal", "<=", query.hours_max),
        ("seats", ">=", query.seats_min),
        ("rangeNm", ">=", query.range_min),
    ):
        if value is not None:
            out.append(f"{field} {op} {float(value) if field == 'price' else value}")
    for field, value in (
        ("manufacturerKey", query.manufacturer and query.manufacturer.lower()),
        ("modelKey", query.model and query.model.lower()),
        ("locationCountry", query.country),
        ("engineType", query.engine_type),
        ("sellerId", query.seller_id and str(query.seller_id)),
    ):
        if value:
            out.append(f"{field} = {_quote(value)}")
    if query.category:
        kinds = category_models(query.category)
        makers = ", ".join(_quote(m) for m in sorted({k.manufacturer.lower() for k in kinds}))
        models = ", ".join(_quote(m) for m in sorted({k.model.lower() for k in kinds}))
        out.append(f"manufacturerKey IN [{makers}] AND modelKey IN [{models}]")
    if query.near is not None and query.radius_km is not None:
        out.append(f"_geoRadius({query.near[0]}, {query.near[1]}, {int(query.radius_km * 1000)})")
    return out


class MeiliSearch:
    """Search and index maintenance against one Meilisearch index."""

    name = "meilisearch"

    def __init__(self, url: str, *, api_key: str | None = None, index: str = "listings") -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.index_uid = index
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=10.0)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def wait(self, task: dict[str, Any], *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until an enqueued task finishes; raise if it failed."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = await self._call("GET", f"/tasks/{task['taskUid']}")
            if state["status"] in ("succeeded", "failed", "canceled"):
                if state["status"] != "succeeded":
                    raise RuntimeError(
                        f"meilisearch task {task['taskUid']} {state['status']}: {state.get('error')}"
                    )
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"meilisearch task {task['taskUid']} still {state['status']}")
            await asyncio.sleep(0.05)

    async def ensure_index(self, uid: str | None = None) -> None:
        """Create the index (if missing) and apply settings and synonyms."""
        uid = uid or self.index_uid
        response = await self._http.get(f"/indexes/{uid}")
        if response.status_code == 404:
            await self.wait(await self._call("POST", "/indexes", json={"uid": uid, "primaryKey": "id"}))
        settings = {**SETTINGS, "synonyms": synonyms()}
        await self.wait(await self._call("PATCH", f"/indexes/{uid}/settings", json=settings))

    async def search(self, query: SearchQuery) -> SearchResult:
        parsed = parse(query.q)
        offset = 0
        after = decode_cursor(query.cursor, 2)
        if after is not None:
            if after[1] != "meili" or not isinstance(after[0], int) or after[0] < 0:
                raise ValidationFailed(
                    "cursor is not valid", errors=[{"field": "cursor", "message": "invalid"}]
                )
            offset = after[0]
        body: dict[str, Any] = {
            "q": parsed.text,
            "filter": filters(query),
            "limit": query.limit + 1,
            "offset": offset,
            "attributesToRetrieve": ["id"],
        }
        if query.sort != "relevance" or not parsed.text:
            body["sort"] = _SORTS["newest" if query.sort == "relevance" else query.sort]
        if query.facets:
            body["facets"] = [_FACETS[f] for f in query.facets]
        result = await self._call("POST", f"/indexes/{self.index_uid}/search", json=body)
        hits = [uuid.UUID(hit["id"]) for hit in result["hits"]]
        next_cursor = encode_cursor([offset + query.limit, "meili"]) if len(hits) > query.limit else None
        hits = hits[: query.limit]
        rows = await db.fetch("SELECT * FROM listings WHERE id = ANY($1::uuid[])", hits)
        by_id = {row["id"]: row for row in rows}
        distribution = result.get("facetDistribution") or {}
        return SearchResult(
            items=[listing_read(by_id[i]) for i in hits if i in by_id],
            next_cursor=next_cursor,
            estimated_total=int(result.get("estimatedTotalHits", len(hits))),
            facets={name: dict(distribution.get(_FACETS[name], {})) for name in query.facets},
        )

    async def index(self, rows: Sequence[Any]) -> int:
        """Upsert rows whose version is newer than the indexed one (replays and reorders are no-ops)."""
        if not rows:
            return 0
        ids = [str(row["id"]) for row in rows]
        known = await self._call(
            "POST",
            f"/indexes/{self.index_uid}/documents/fetch",
            json={
                "filter": f"id IN [{', '.join(_quote(i) for i in ids)}]",
                "fields": ["id", "version"],
                "limit": len(ids),
            },
        )
        indexed = {doc["id"]: doc.get("version", 0) for doc in known.get("results", [])}
        fresh = [document(row) for row in rows if indexed.get(str(row["id"]), 0) < row["version"]]
        if fresh:
            await self.wait(await self._call("POST", f"/indexes/{self.index_uid}/documents", json=fresh))
        return len(fresh)

    async def remove(self, listing_ids: Sequence[uuid.UUID]) -> None:
        if listing_ids:
            task = await self._call(
                "POST",
                f"/indexes/{self.index_uid}/documents/delete-batch",
                json=[str(i) for i in listing_ids],
            )
            await self.wait(task)

    async def rebuild(self, batches: AsyncIterable[Sequence[Any]]) -> int:
        """Fill a fresh index and swap it with the live one: searches never see a half-built index."""
        await self.ensure_index()
        staging = f"{self.index_uid}_rebuild_{int(time.time())}"
        await self.ensure_index(staging)
        count = 0
        async for rows in batches:
            docs = [document(row) for row in rows]
            await self.wait(
                await self._call("POST", f"/indexes/{staging}/documents", json=docs), timeout_s=300
            )
            count += len(docs)
        swap = await self._call("POST", "/swap-indexes", json=[{"indexes": [self.index_uid, staging]}])
        await self.wait(swap)
        await self.wait(await self._call("DELETE", f"/indexes/{staging}"))
        return count

    async def close(self) -> None:
        await self._http.aclose()

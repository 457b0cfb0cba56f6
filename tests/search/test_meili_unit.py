"""Meilisearch backend pieces that need no server: filters, documents, synonyms, request bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import msgspec

from app.search.backends.meili import MeiliSearch, document, filters, synonyms
from app.search.schemas import SearchQuery


def test_filters_include_phrases_and_geo():
    query = SearchQuery(
        q="king air 350 under 3m",
        statuses=("active",),
        country="US",
        engine_type="turboprop",
        seats_min=6,
        near=(40.85, -74.06),
        radius_km=100,
    )
    out = filters(query)
    assert 'status IN ["active"]' in out
    assert "price <= 3000000.0" in out
    assert 'locationCountry = "US"' in out and 'engineType = "turboprop"' in out
    assert "seats >= 6" in out
    assert "_geoRadius(40.85, -74.06, 100000)" in out


def test_synonyms_cover_aliases_and_makers():
    table = synonyms()
    assert "172 skyhawk" in table["skyhawk"]
    assert table["beech"] == ["beechcraft"]
    assert "g650er" in table["gvi"]


def _row(**overrides):
    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(), "seller": uuid.uuid4(), "manufacturer": "Pilatus", "model": "PC-12 NGX",
        "year_manufactured": 2022, "tail_number": "N12PC", "hours_total": 300, "price": Decimal("4500000"),
        "currency": "USD", "location_country": "US", "location_city": "Denver", "description": "",
        "status": "active", "featured": False,
        "specifications": msgspec.json.encode({"engineType": "turboprop", "latitude": 39.7, "longitude": -105}),
        "images": "[]", "version": 3, "created_at": now, "updated_at": now,
    }  # fmt: skip
    row.update(overrides)
    return row


def test_document_has_aliases_compact_names_and_geo():
    doc = document(_row())
    assert "PC12" in doc["aliases"] and "pc12ngx" in doc["compactNames"]
    assert doc["_geo"] == {"lat": 39.7, "lng": -105}
    assert doc["version"] == 3 and doc["price"] == 4_500_000.0


async def test_index_skips_rows_not_newer_than_the_index():
    row = _row()
    sent: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/documents/fetch"):
            return httpx.Response(200, json={"results": [{"id": str(row["id"]), "version": 3}]})
        if request.url.path.endswith("/documents"):
            sent.append(msgspec.json.decode(request.content))
            return httpx.Response(202, json={"taskUid": 1})
        if request.url.path == "/tasks/1":
            return httpx.Response(200, json={"status": "succeeded"})
        return httpx.Response(404)

    backend = MeiliSearch("http://meili.test")
    backend._http = httpx.AsyncClient(base_url="http://meili.test", transport=httpx.MockTransport(handler))
    assert await backend.index([row]) == 0  # same version
    assert await backend.index([{**row, "version": 2}]) == 0  # older
    assert await backend.index([{**row, "version": 4}]) == 1  # newer
    assert sent[0][0]["version"] == 4
    await backend.close()

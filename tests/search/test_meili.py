"""The relevance table and filters against Meilisearch (skipped unless MEILI_URL points at a server)."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.search.cases import CASES

pytestmark = pytest.mark.skipif(
    not os.environ.get("MEILI_URL"), reason="MEILI_URL is not set: no Meilisearch server to test against"
)


@pytest.fixture(scope="module")
async def meili(catalogue):
    from app.core import db
    from app.search.backends.meili import MeiliSearch

    backend = MeiliSearch(
        os.environ["MEILI_URL"],
        api_key=os.environ.get("MEILI_MASTER_KEY"),
        index=f"test_{uuid.uuid4().hex[:8]}",
    )
    rows = await db.fetch("SELECT * FROM listings WHERE seller = $1", uuid.UUID(catalogue.seller_id))

    async def batches():
        yield rows

    await backend.rebuild(batches())
    yield backend
    await backend._call("DELETE", f"/indexes/{backend.index_uid}")
    await backend.close()


def _query(catalogue, q: str, params: dict):
    from decimal import Decimal

    from app.search.schemas import SearchQuery

    return SearchQuery(
        q=q,
        seller_id=uuid.UUID(catalogue.seller_id),
        statuses=("active", "on_hold", "under_contract"),
        year_min=params.get("yearMin"),
        engine_type=params.get("engineType"),
        seats_min=params.get("seatsMin"),
        price_max=Decimal(params["priceMax"]) if "priceMax" in params else None,
        limit=20,
    )


@pytest.mark.parametrize(("q", "params", "expected"), CASES, ids=[c[0] + str(c[1] or "") for c in CASES])
async def test_relevance(meili, catalogue, q, params, expected):
    result = await meili.search(_query(catalogue, q, params))
    models = [item.model for item in result.items]
    assert models and models[0] in expected, f"{q!r} → {models[:8]}"


async def test_index_is_version_ordered(meili, catalogue):
    from app.core import db

    row = dict(
        (await db.fetch("SELECT * FROM listings WHERE seller = $1 LIMIT 1", uuid.UUID(catalogue.seller_id)))[
            0
        ]
    )
    assert await meili.index([row]) == 0  # same version: nothing to do
    older = {**row, "version": row["version"] - 1, "price": 1}
    assert await meili.index([older]) == 0  # an older update never overwrites a newer one

"""Fixtures for reports: people with tokens, listings made over HTTP with a model name of their own."""

from __future__ import annotations

import uuid

from tests.people import assert_problem, listing_body

__all__ = ["assert_problem"]


async def make_listings(client, seller: dict, model: str, prices: list[str], **fields) -> list[dict]:
    made = []
    for index, price in enumerate(prices):
        body = {**listing_body(), "manufacturer": "Reportair", "model": model, "price": price,
                "yearManufactured": 2000 + index, "hoursTotal": 1000 + 10 * index, **fields}  # fmt: skip
        response = await client.post("/api/listings", json=body, headers=seller["headers"])
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def unique_model() -> str:
    return f"RPT-{uuid.uuid4().hex[:8]}"

"""GraphQL tests: the real app over HTTP (and its socket in-process), real PostgreSQL and Redis.

No app imports at module level: this conftest loads before the root one has started PostgreSQL.
"""

from __future__ import annotations

import random
import string

import pytest

_TAILS_GIVEN: set[str] = set()


def tail() -> str:
    """A tail number of this suite's own space (N + 4 digits + "G" + a letter), never repeated."""
    while True:
        candidate = (
            "N" + "".join(random.choices(string.digits, k=4)) + "G" + random.choice(string.ascii_uppercase)
        )
        if candidate not in _TAILS_GIVEN:
            _TAILS_GIVEN.add(candidate)
            return candidate


def listing_input(**overrides) -> dict:
    data = {
        "manufacturer": "Cirrus",
        "aircraftModel": "SR22T",
        "yearManufactured": 2019,
        "tailNumber": tail(),
        "hoursTotal": 640,
        "price": "849000.00",
        "currency": "USD",
        "location": {"country": "US", "city": "Duluth"},
        "description": "Perspective+, FIKI, one owner.",
        "specifications": {"engineType": "piston", "maxPassengers": 5, "avionics": ["Garmin Perspective+"]},
    }
    data.update(overrides)
    return data


class GraphQL:
    """POSTs operations to /graphql and returns the JSON body."""

    def __init__(self, client) -> None:
        self.client = client

    async def __call__(
        self, query: str, variables: dict | None = None, who: dict | None = None, **kw
    ) -> dict:
        headers = dict(who["headers"]) if who else {}
        headers.update(kw.pop("headers", {}))
        body = {"query": query, "variables": variables or {}, **kw}
        response = await self.client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict | None = None, who: dict | None = None) -> dict:
        body = await self(query, variables, who)
        assert "errors" not in body, body
        return body["data"]


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


@pytest.fixture(scope="session")
def gql(client) -> GraphQL:
    return GraphQL(client)


@pytest.fixture(scope="module")
async def seller(accounts):
    return await accounts.create("seller", level=1, plan="enterprise")


@pytest.fixture(scope="module")
async def other_seller(accounts):
    return await accounts.create("seller", level=1, plan="enterprise")


CREATE = """
mutation Create($input: CreateAircraftListingInput!, $draft: Boolean! = false) {
  createAircraftListing(input: $input, draft: $draft) {
    id status price currency aircraftModel manufacturer tailNumber version
    location { country city }
    seller { id displayName }
  }
}
"""


async def create_listing(gql, who, draft: bool = False, **overrides) -> dict:
    data = await gql.ok(CREATE, {"input": listing_input(**overrides), "draft": draft}, who)
    return data["createAircraftListing"]

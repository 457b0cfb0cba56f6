# ruff: noqa: UP031 - GraphQL is all braces: %-formatting keeps the documents readable
"""GraphQL over HTTP against the real app: seed 000 §5.2 round trips, REST's rules and codes, limits."""

from __future__ import annotations

import contextlib

from tests.graphql.conftest import CREATE, codes, create_listing, listing_input

LISTING = """
query One($id: ID!) {
  aircraftListing(id: $id) {
    id aircraftModel manufacturer yearManufactured tailNumber hoursTotal price currency status featured
    description version createdAt updatedAt
    location { country city latitude longitude }
    specifications { engineType maxPassengers avionics }
    images { url thumbnailUrl }
    seller { id displayName companyName verificationLevel }
    priceHistory { price currency changedAt }
    hold { expiresAt }
  }
}
"""


async def test_every_seed_query_and_mutation_round_trips(gql, client, seller, accounts):
    created = await create_listing(gql, seller)
    assert created["status"] == "ACTIVE" and created["price"] == "849000.00"
    assert created["seller"]["id"] == seller["id"]

    one = (await gql.ok(LISTING, {"id": created["id"]}))["aircraftListing"]
    rest = (await client.get(f"/api/listings/{created['id']}")).json()
    assert one["tailNumber"] == rest["tailNumber"] and one["aircraftModel"] == rest["model"]
    assert one["price"] == rest["price"] and one["version"] == rest["version"]
    assert one["createdAt"].endswith("+00:00")  # RFC 3339
    assert one["specifications"]["maxPassengers"] == 5

    changed = await gql.ok(
        """mutation($id: ID!) { updateAircraftListing(id: $id, input: {price: "799000.00"}, expectedVersion: 1)
             { price version } }""",
        {"id": created["id"]},
        seller,
    )
    assert changed["updateAircraftListing"] == {"price": "799000.00", "version": 2}
    history = (await gql.ok(LISTING, {"id": created["id"]}))["aircraftListing"]["priceHistory"]
    assert [p["price"] for p in history] == ["849000.00", "799000.00"]

    stale = await gql(
        """mutation($id: ID!) { updateAircraftListing(id: $id, input: {price: "1.00"}, expectedVersion: 1)
             { version } }""",
        {"id": created["id"]},
        seller,
    )
    assert codes(stale) == ["version_mismatch"]

    found = await gql.ok(
        """query($s: ID!) { searchAircraft(query: "cirus sr22t", filters: {sellerId: $s}, first: 100)
             { id tailNumber } }""",
        {"s": seller["id"]},
    )
    assert created["id"] in {item["id"] for item in found["searchAircraft"]}

    broker = await accounts.create("broker", level=1)
    buyer = await accounts.create("buyer", level=2)
    reserved = await gql.ok(
        """mutation($b: ID!, $l: ID!) { reserveCustomer(buyerId: $b, listingId: $l)
             { id buyerId brokerId listingId status } }""",
        {"b": buyer["id"], "l": created["id"]},
        broker,
    )
    assert reserved["reserveCustomer"]["status"] == "active"
    assert reserved["reserveCustomer"]["brokerId"] == broker["id"]

    deleted = await gql.ok(
        "mutation($id: ID!) { deleteAircraftListing(id: $id) }", {"id": created["id"]}, seller
    )
    assert deleted == {"deleteAircraftListing": True}
    assert (await client.get(f"/api/listings/{created['id']}")).status_code == 404


async def test_connection_pages_with_the_rest_cursors(gql, client, seller):
    made = [await create_listing(gql, seller, manufacturer="Mooney", aircraftModel="M20V") for _ in range(3)]
    query = """query($after: String) {
      aircraftListings(filter: {manufacturer: ["Mooney"], sellerId: "%s"}, first: 2, after: $after,
                       sort: {field: CREATED_AT, direction: DESC}) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }""" % seller["id"]
    first = (await gql.ok(query))["aircraftListings"]
    rest = (
        await client.get(
            "/api/listings", params={"manufacturer": "Mooney", "sellerId": seller["id"], "limit": 2}
        )
    ).json()
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": rest["nextCursor"]}
    second = (await gql.ok(query, {"after": first["pageInfo"]["endCursor"]}))["aircraftListings"]
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [m["id"] for m in reversed(made)]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_rest_rules_and_codes(gql, seller, other_seller, accounts):
    anonymous = await gql(CREATE, {"input": listing_input()})
    assert codes(anonymous) == ["not_authenticated"]
    buyer = await accounts.create("buyer", level=0)
    assert codes(await gql(CREATE, {"input": listing_input()}, buyer)) == ["forbidden"]
    unverified = await accounts.create("seller", level=0)
    assert codes(await gql(CREATE, {"input": listing_input()}, unverified)) == ["verification_required"]
    bad = await gql(CREATE, {"input": listing_input(price="12.345")}, seller)
    assert codes(bad) == ["validation_failed"]
    assert bad["errors"][0]["extensions"]["errors"][0]["field"] == "input.price"

    draft = await create_listing(gql, seller, draft=True)
    assert draft["status"] == "DRAFT"
    for who in (None, other_seller):
        hidden = await gql(LISTING, {"id": draft["id"]}, who)
        assert codes(hidden) == ["not_found"] and hidden["data"]["aircraftListing"] is None
    assert (await gql.ok(LISTING, {"id": draft["id"]}, seller))["aircraftListing"]["status"] == "DRAFT"
    listed = await gql.ok(
        """{ aircraftListings(filter: {sellerId: "%s", status: [DRAFT]}) { edges { node { id } } } }"""
        % seller["id"],
        who=other_seller,
    )
    assert listed["aircraftListings"]["edges"] == []
    theirs = await gql(
        """mutation($id: ID!) { updateAircraftListing(id: $id, input: {price: "1000.00"}) { id } }""",
        {"id": draft["id"]},
        other_seller,
    )
    assert codes(theirs) == ["not_found"]

    active = await create_listing(gql, seller)
    hold = """mutation($id: ID!) { placeHold(listingId: $id) { id status } }"""
    assert codes(await gql(hold, {"id": active["id"]}, await accounts.create("buyer", level=0))) == [
        "verification_required"
    ]
    assert (await gql.ok(hold, {"id": active["id"]}, await accounts.create("buyer", level=2)))["placeHold"][
        "status"
    ] == "active"
    assert codes(await gql(hold, {"id": active["id"]}, await accounts.create("buyer", level=2))) == [
        "listing_on_hold"
    ]


async def test_api_key_scopes_mean_what_they_mean_over_rest(gql, client, seller):
    made = await client.post(
        "/api/me/api-keys", json={"name": "gql-bot", "scopes": ["read"]}, headers=seller["headers"]
    )
    assert made.status_code == 201, made.text
    key = {"headers": {"X-API-Key": made.json()["key"]}}
    assert "aircraftListings" in (
        await gql.ok("{ aircraftListings(first: 1) { edges { cursor } } }", who=key)
    )
    refused = await gql(CREATE, {"input": listing_input()}, key)
    assert codes(refused) == ["insufficient_scope"]


async def test_over_deep_and_over_wide_queries_are_refused_before_running(gql, seller, client):
    deep = "{ aircraftListings(first: 1) { edges { node { seller { listings(first: 1) { edges { node { seller { listings(first: 1) { edges { node { id } } } } } } } } } } } }"
    body = await gql(deep)
    assert codes(body) == ["query_too_deep"] and body.get("data") is None

    wide = '{ aircraftListing(id: "%s") { %s } }' % (
        "00000000-0000-0000-0000-000000000000",
        " ".join(f"f{i}: id" for i in range(10_000)),
    )
    body = await gql(wide)
    assert codes(body) == ["query_too_complex"] and body.get("data") is None

    # A mutation over the limit is refused as a whole: nothing was created.
    tail_number = listing_input()["tailNumber"]
    wide_mutation = "mutation { createAircraftListing(input: %s) { %s } }" % (
        '{manufacturer: "Cirrus", aircraftModel: "SR20", yearManufactured: 2010, tailNumber: "%s", '
        'hoursTotal: 1, price: "1000.00", currency: "USD", location: {country: "US", city: "X"}}'
        % tail_number,
        " ".join(f"f{i}: id" for i in range(6_000)),
    )
    assert codes(await gql(wide_mutation, who=seller)) == ["query_too_complex"]
    listed = (await client.get("/api/search", params={"q": tail_number})).json()["items"]
    assert all(item["tailNumber"] != tail_number for item in listed)


@contextlib.asynccontextmanager
async def statements():
    """Counts the SQL statements sent on every connection of the app's pool (asyncpg's query logger)."""
    import asyncio

    from app.core.db import engine

    pool = engine().pool
    held = [await pool.acquire() for _ in range(pool.get_max_size())]  # every connection opened
    for proxy in held:
        await pool.release(proxy)
    seen: list[str] = []
    connections = [holder._con for holder in pool._holders if holder._con is not None]
    assert len(connections) == pool.get_max_size()

    def log(record) -> None:
        seen.append(record.query)

    for conn in connections:
        conn.add_query_logger(log)
    try:
        yield seen
    finally:
        await asyncio.sleep(0)
        for conn in connections:
            conn.remove_query_logger(log)


async def test_a_page_of_100_listings_with_sellers_images_and_prices_takes_at_most_4_statements(
    gql, accounts
):
    sellers = [await accounts.create("seller", level=1, plan="enterprise") for _ in range(5)]
    for i in range(100):
        await create_listing(gql, sellers[i % 5], manufacturer="Diamond", aircraftModel="DA62")
    query = """{ aircraftListings(first: 100, filter: {manufacturer: ["Diamond"], model: ["DA62"]}) {
        edges { cursor node { id price status hold { expiresAt }
          seller { id displayName companyName verificationLevel }
          images { url thumbnailUrl width height }
          priceHistory { price changedAt } } } pageInfo { hasNextPage } } }"""
    from app.core.db import engine

    pool = engine().pool
    for proxy in [await pool.acquire() for _ in range(pool.get_max_size())]:  # open every connection
        await pool.release(proxy)
    # Warm every pooled connection: asyncpg reads a type's description once per connection (uuid[], …);
    # that is the connection's cost, not this query's.
    for _ in range(engine().pool.get_max_size() + 1):
        await gql.ok(query, who=sellers[0])
    async with statements() as seen:
        data = await gql.ok(query, who=sellers[0])
    assert len(data["aircraftListings"]["edges"]) == 100
    assert {e["node"]["seller"]["id"] for e in data["aircraftListings"]["edges"]} == {
        s["id"] for s in sellers
    }
    assert len(seen) <= 4, seen


async def test_graphiql_only_in_development_and_introspection_off_in_production(client):
    from app.graphql.schema import build_schema

    assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code != 200  # ATP_ENV=test
    introspect = "{ __schema { queryType { name } } }"
    assert (await build_schema().execute(introspect)).errors is None
    refused = await build_schema(production=True).execute(introspect)
    assert refused.errors


async def test_persisted_query_allowlist():
    import hashlib

    from app.graphql.schema import build_schema

    allowed = "{ aircraftListings(first: 1) { pageInfo { hasNextPage } } }"
    schema = build_schema(allowlist={hashlib.sha256(allowed.encode()).hexdigest(): allowed})
    other = await schema.execute("{ aircraftListings(first: 2) { pageInfo { hasNextPage } } }")
    assert other.errors and other.errors[0].extensions["code"] == "persisted_query_not_allowed"

"""Health, readiness, the OpenAPI document and generic error handling."""


async def test_health_and_ready(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_openapi_document_and_docs_are_served(client):
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    for path in ("/api/auth/register", "/api/auth/login", "/api/listings", "/api/listings/{listing_id}"):
        assert path in paths
    assert (await client.get("/schema")).status_code == 200


async def test_unknown_route_and_method_are_problem_json(client):
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong_method = await client.put("/api/auth/login", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_oversized_body_is_413(client):
    big = {"email": "x@y.zz", "password": "p" * 10, "companyName": "c" * 2_000_000, "userType": "buyer"}
    response = await client.post("/api/auth/register", json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_every_response_carries_a_request_id(client):
    response = await client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    assert len((await client.get("/health")).headers["x-request-id"]) == 32
    # One that is too long, or carries a control character (a forged log line), is replaced, not echoed.
    for forged in ("x" * 65, "ok\tfake=1"):
        answered = (await client.get("/health", headers={"X-Request-ID": forged})).headers["x-request-id"]
        assert answered != forged and len(answered) == 32


async def test_nul_characters_are_a_validation_error_not_a_crash(client):
    body = {
        "email": "nul\u0000@example.com",
        "password": "glass-cockpit-42",
        "companyName": "A\u0000B",
        "userType": "buyer",
    }
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"

"""Security headers: a strict CSP everywhere but the API docs pages, nosniff and same-origin referrers."""

from __future__ import annotations

from app.core.security_headers import CONTENT_SECURITY_POLICY


async def test_app_responses_carry_a_strict_csp(client):
    for path in ("/", "/health", "/api/listings?limit=1", "/api/auth/profile"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


async def test_api_docs_keep_working_without_the_csp(client):
    for path in ("/schema", "/schema/swagger", "/schema/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "content-security-policy" not in response.headers, path
        assert response.headers["x-content-type-options"] == "nosniff"

"""The web app's session scheme: refresh token only in an httpOnly SameSite=Strict cookie (docs/web-session.md)."""

from __future__ import annotations

import httpx
import pytest

from tests.ui_api.conftest import assert_problem

WEB = {"X-ATP-Client": "web"}


@pytest.fixture
async def browser(app, client):
    """A separate client (own cookie jar) on the already running app; cookies are handled by hand."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


def refresh_cookie(response: httpx.Response) -> tuple[str, str]:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith("atp_refresh=")]
    value = header.split(";", 1)[0].split("=", 1)[1]
    return value, header


async def login(browser, accounts, headers=WEB) -> httpx.Response:
    user = await accounts.create("buyer")
    response = await browser.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"]}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


async def test_web_login_puts_the_refresh_token_in_a_strict_httponly_cookie(browser, accounts):
    response = await login(browser, accounts)
    body = response.json()
    assert body["accessToken"] and body["refreshToken"] == "" and body["user"]["email"]
    token, header = refresh_cookie(response)
    assert token.startswith("rt_")
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/api/auth"} <= attributes
    assert "secure" not in attributes  # plain http in tests; https or production adds it
    assert response.headers["cache-control"] == "no-store"


async def test_api_clients_see_no_cookie(browser, accounts):
    response = await login(browser, accounts, headers={})
    assert response.json()["refreshToken"].startswith("rt_")
    assert "set-cookie" not in response.headers


async def test_refresh_from_the_cookie_rotates_it_and_reuse_is_caught(browser, accounts):
    first, _ = refresh_cookie(await login(browser, accounts))
    browser.cookies.clear()
    rotated = await browser.post("/api/auth/refresh", headers={**WEB, "Cookie": f"atp_refresh={first}"})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["accessToken"] and rotated.json()["refreshToken"] == ""
    second, _ = refresh_cookie(rotated)
    assert second != first
    browser.cookies.clear()
    reused = await browser.post("/api/auth/refresh", headers={**WEB, "Cookie": f"atp_refresh={first}"})
    assert_problem(reused, 401, "refresh_token_reused")


async def test_cookie_alone_is_not_enough(browser, accounts):
    token, _ = refresh_cookie(await login(browser, accounts))
    browser.cookies.clear()
    # Without the custom header (what a cross-site form post would look like) the cookie is ignored.
    forged = await browser.post("/api/auth/refresh", headers={"Cookie": f"atp_refresh={token}"})
    assert_problem(forged, 401, "invalid_refresh_token")
    assert_problem(await browser.post("/api/auth/refresh", headers=WEB), 401, "invalid_refresh_token")


async def test_json_refresh_still_works_as_in_api_md(client, accounts):
    user = await accounts.create("buyer")
    response = await client.post("/api/auth/refresh", json={"refreshToken": user["refresh"]})
    assert response.status_code == 200
    assert response.json()["refreshToken"].startswith("rt_")


async def test_logout_clears_the_cookie(browser, accounts):
    response = await login(browser, accounts)
    access = response.json()["accessToken"]
    token, _ = refresh_cookie(response)
    out = await browser.post("/api/auth/logout", headers={**WEB, "Authorization": f"Bearer {access}"})
    assert out.status_code == 204
    value, header = refresh_cookie(out)
    assert value in ("", '""') and "max-age=0" in header.lower()
    browser.cookies.clear()
    again = await browser.post("/api/auth/refresh", headers={**WEB, "Cookie": f"atp_refresh={token}"})
    assert again.status_code == 401


async def test_cookie_is_secure_over_https(app, client, accounts):
    user = await accounts.create("buyer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        response = await c.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}, headers=WEB
        )
    _, header = refresh_cookie(response)
    assert "secure" in {part.strip().lower() for part in header.split(";")}

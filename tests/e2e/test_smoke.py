"""The shell, the PWA files and the headers a browser relies on."""

from __future__ import annotations

import time
import uuid

import httpx
import pyotp

from tests.e2e.conftest import screenshot, wait_ready


def test_shell_manifest_and_service_worker_are_served(live):
    for path in (
        "/",
        "/listings/00000000-0000-0000-0000-000000000000",
        "/dashboard",
        "/sell",
        "/admin",
        "/login",
    ):
        response = httpx.get(live.url + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="/static/app.js">' in response.text
        # The app runs under a CSP without inline scripts or styles (the browser tests fail on violations).
        assert "script-src 'self'" in response.headers["content-security-policy"]
    manifest = httpx.get(live.url + "/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    sizes = {icon["sizes"] for icon in manifest.json()["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon["purpose"] == "maskable" for icon in manifest.json()["icons"])
    worker = httpx.get(live.url + "/sw.js")
    assert worker.headers["service-worker-allowed"] == "/"
    assert "no-cache" in worker.headers["cache-control"]
    assert "__ATP_VERSION__" not in worker.text
    assert httpx.get(live.url + "/static/app.css").status_code == 200
    # The app does not shadow the API: unknown API paths stay problem+json 404s.
    missing = httpx.get(live.url + "/api/nothing-here")
    assert missing.status_code == 404
    assert "html" not in missing.headers["content-type"]


async def test_app_boots_without_console_errors_and_logs_in(people):
    buyer = await people.create("buyer", level=2)
    context = await people.context()
    page = await context.new_page()
    errors: list[str] = []
    # HTTP errors the app handles (401 before login, 404 for features not deployed) are not page errors;
    # CSP violations and exceptions are.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto("/login")
    await wait_ready(page)
    await page.get_by_label("Email").fill(buyer["email"])
    await page.get_by_label("Password").fill(buyer["password"])
    await screenshot(page, "login")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/")
    await page.get_by_text(buyer["email"]).wait_for()
    await page.locator("#conn[data-status='live']").wait_for()
    # A reload keeps the session through the httpOnly cookie; the token never lands in storage.
    await page.reload()
    await wait_ready(page)
    await page.get_by_text(buyer["email"]).wait_for()
    assert await page.evaluate("Object.keys(localStorage).join()") == ""
    assert "atp_refresh" not in await page.evaluate("document.cookie")
    # The account page: profile, 2FA set-up, notification channels per kind.
    await page.get_by_role("link", name=buyer["email"]).click()
    await page.get_by_role("heading", name="My account").wait_for()
    await page.get_by_role("button", name="Set up an authenticator app").wait_for()
    await page.locator("fieldset input[type='checkbox']").first.wait_for()
    # Web push: the service worker is running, so this device can be subscribed.
    await page.get_by_role("heading", name="Notifications on this device").wait_for()
    await page.get_by_role("button", name="Turn on for this device").wait_for()
    assert not errors, errors


async def test_register_as_a_broker_lands_on_the_dashboard(people):
    page = await people.page()
    await page.goto("/register")
    await wait_ready(page)
    email = f"e2e-new-broker-{uuid.uuid4().hex[:8]}@test.atp"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("a-long-enough-password-42")
    await page.get_by_label("Company").fill("Brokers Ltd")
    await page.get_by_label("I am a").select_option("broker")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url("**/dashboard")
    await page.get_by_role("heading", name="Broker dashboard").wait_for()
    await page.locator("#conn[data-status='live']").wait_for()


async def test_login_asks_for_the_totp_code_when_two_factor_is_on(people, api):
    buyer = await people.create("buyer", level=0)
    setup = await api.post("/api/auth/totp/enable", headers=buyer["headers"])
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    confirm = await api.post("/api/auth/totp/confirm", json={"code": totp.now()}, headers=buyer["headers"])
    assert confirm.status_code == 204, confirm.text

    page = await people.page()
    await page.goto("/login")
    await wait_ready(page)
    assert not await page.get_by_label("Authentication code").is_visible()
    await page.get_by_label("Email").fill(buyer["email"])
    await page.get_by_label("Password").fill(buyer["password"])
    await page.get_by_role("button", name="Log in").click()
    code = page.get_by_label("Authentication code")
    await code.wait_for()
    assert await page.evaluate("document.activeElement.id") == "login-totp"
    # Each code works once: the one used to switch 2FA on is spent, the next step's code is not.
    await code.fill(totp.at(time.time() + 30))
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_text(buyer["email"]).wait_for()

"""Log in with an identity provider from the browser: the provider's button, its redirect dance, signed in.

Its own live server (the shared one knows no provider) and the test OpenID provider of tests/oidc_provider.py.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.e2e.conftest import CHROMIUM_ARGS, LIVE_TIMEOUT_MS, LiveServer, wait_ready
from tests.oidc_provider import TestProvider


@pytest.fixture(scope="module")
def idp():
    served = TestProvider().start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def server(idp, tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("e2e-oidc"))
    client = idp.register_client(f"{live.url}/api/auth/oauth/test/callback")
    live.env.update(
        ATP_RT_RELAY="0",
        ATP_PUBLIC_URL=live.url,
        ATP_OIDC_PROVIDERS="test",
        ATP_OIDC_TEST_ISSUER=idp.issuer,
        ATP_OIDC_TEST_CLIENT_ID=client.client_id,
        ATP_OIDC_TEST_CLIENT_SECRET=client.client_secret,
        ATP_OIDC_TEST_NAME="Test ID",
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
async def page(chromium_path, server, tmp_path_factory):
    from playwright.async_api import async_playwright

    work = tmp_path_factory.mktemp("chromium-oidc")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, "TMPDIR": str(work), "HOME": str(work)},
        )
        context = await launched.new_context(base_url=server.url)
        context.set_default_timeout(LIVE_TIMEOUT_MS)
        yield await context.new_page()
        await context.close()
        await launched.close()


async def test_provider_button_signs_a_new_person_in_and_the_account_page_shows_the_link(page, idp):
    email = f"e2e-idp-{uuid.uuid4().hex[:10]}@idp.test"
    idp.sign_in_as(email=email, given_name="Grace")

    await page.goto("/login?next=/account")
    await wait_ready(page)
    button = page.get_by_role("link", name="Test ID")
    await button.wait_for()
    await button.click()

    await page.wait_for_url("**/account")
    assert "oauth=" not in page.url
    await page.locator("#who", has_text=email).wait_for()
    await page.locator("#identities", has_text="Test ID").wait_for()
    # The only way into this account: unlinking is refused and the link stays.
    await page.locator("#identities").get_by_role("button", name="Unlink").click()
    await page.get_by_text("only way", exact=False).first.wait_for()
    await page.locator("#identities", has_text="Test ID").wait_for()

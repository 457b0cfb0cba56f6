"""The service worker keeps a viewed listing readable offline; other pages get the offline page."""

from __future__ import annotations

from tests.e2e.conftest import make_listing, screenshot, wait_ready


async def test_service_worker_serves_a_viewed_listing_offline(people, api):
    seller = await people.create("seller", level=1)
    viewed = await make_listing(api, seller, model="PC-12 NGX", manufacturer="Pilatus", price="4650000.00")
    never_viewed = await make_listing(api, seller)
    context = await people.context()
    page = await context.new_page()
    await page.goto(f"/listings/{viewed['id']}")
    await wait_ready(page)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # The first visit installed the worker; from the next load on it controls the page and its fetches.
    await page.reload()
    await wait_ready(page)
    assert await page.evaluate("Boolean(navigator.serviceWorker.controller)")
    await page.locator("#listing-title").wait_for()

    await context.set_offline(True)
    await page.goto(f"/listings/{viewed['id']}")
    await wait_ready(page)
    assert await page.locator("#listing-title").inner_text() == "2018 Pilatus PC-12 NGX"
    assert await page.locator("#listing-price").inner_text() == "$4,650,000"
    await page.locator("#conn[data-status='reconnecting']").wait_for()

    await page.goto(f"/listings/{never_viewed['id']}")
    await wait_ready(page)
    await page.get_by_text("Network error").wait_for()

    await page.goto("/admin")
    await page.get_by_role("heading", name="You are offline").wait_for()
    await screenshot(page, "offline")
    await context.set_offline(False)

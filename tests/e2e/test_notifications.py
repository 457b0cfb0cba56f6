"""A saved search's price drop rings the bell live; the notification can be read and marked read."""

from __future__ import annotations

from tests.e2e.conftest import make_listing, wait_ready


async def test_price_drop_on_a_saved_search_rings_the_bell(people, api):
    seller = await people.create("seller", level=1)
    buyer = await people.create("buyer", level=1)
    listing = await make_listing(
        api, seller, manufacturer="Mooney", model="M20V Acclaim", locationCountry="NZ", price="799000.00"
    )
    page = await people.page(buyer)
    await page.goto("/?q=mooney&country=NZ")
    await wait_ready(page)
    await page.locator(f"#results li[data-listing-id='{listing['id']}']").wait_for()
    await page.get_by_role("button", name="Save this search").click()
    await page.get_by_text("Saved “mooney”").wait_for()
    await page.locator("#conn[data-status='live']").wait_for()
    assert not await page.locator("#bell-count").is_visible()

    response = await api.patch(
        f"/api/listings/{listing['id']}", json={"price": "749000.00"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    # Saved searches are evaluated by the worker every few seconds; the bell then updates by itself.
    await page.locator("#bell-count", has_text="1").wait_for(timeout=20_000)

    await page.locator("#bell").click()
    await page.wait_for_url("**/notifications")
    await page.locator("#notification-list li", has_text="M20V").first.wait_for()
    await page.get_by_role("button", name="Mark all read").click()
    await page.locator("#bell-count").wait_for(state="hidden")

    await page.get_by_role("link", name="Saved").click()
    await page.locator("#saved-list li", has_text="mooney").wait_for()

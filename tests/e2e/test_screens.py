"""Admin and phone-sized screens: suspend a listing from the admin page; the search page fits a phone."""

from __future__ import annotations

from tests.e2e.conftest import make_listing, screenshot, wait_ready


async def test_admin_suspends_and_restores_a_listing(people, api):
    seller = await people.create("seller", level=1)
    admin = await people.create("admin", level=3)
    listing = await make_listing(
        api, seller, manufacturer="Beechcraft", model="King Air 350i", price="7900000.00"
    )
    page = await people.page(admin)
    await page.goto("/admin")
    await wait_ready(page)
    row = page.locator("#admin-listings tr", has_text=listing["tailNumber"])
    await assert_accessible_basics(page)
    await screenshot(page, "admin")
    await row.get_by_role("button", name="Suspend").click()
    await row.wait_for(state="detached")  # gone from the active listings
    await page.get_by_label("Show listings").select_option("suspended")
    restore = page.locator("#admin-listings tr", has_text=listing["tailNumber"]).get_by_role(
        "button", name="Restore"
    )
    await restore.wait_for()
    suspended = await api.get(f"/api/listings/{listing['id']}", headers=admin["headers"])
    assert suspended.json()["status"] == "suspended"
    await restore.click()
    await page.locator("#admin-listings tr", has_text=listing["tailNumber"]).wait_for(state="detached")
    assert (await api.get(f"/api/listings/{listing['id']}")).json()["status"] == "active"


async def test_search_fits_a_phone_screen(people, api):
    seller = await people.create("seller", level=1)
    await make_listing(api, seller, manufacturer="Cirrus", model="SR22T", price="925000.00")
    context = await people.context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await page.goto("/?q=cirrus")
    await wait_ready(page)
    await page.locator("#results li").first.wait_for()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert (
        await page.locator("meta[name='viewport']").get_attribute("content")
        == "width=device-width, initial-scale=1"
    )
    await assert_accessible_basics(page)
    await screenshot(page, "mobile")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map(el => el.outerHTML.slice(0, 80))"""


async def assert_accessible_basics(page) -> None:
    """Every control has a name, the page has a title, one main landmark and one h1."""
    assert await page.evaluate(UNLABELLED) == []
    assert (await page.title()).endswith("ATP")
    assert await page.locator("main").count() == 1
    assert await page.locator("h1").count() == 1
    assert await page.locator("html").get_attribute("lang") == "en"

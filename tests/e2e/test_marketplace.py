"""The buyer's marketplace (issue 20): pages of results, counts and sort; saving a search asks anonymous
people to log in; pages gated by role; the app's not-found page."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import make_listing, wait_ready


async def test_search_pages_through_every_result_with_counts_and_sort(people, api):
    seller = await people.create("seller", level=1)
    maker = f"Pager{uuid.uuid4().hex[:6]}"
    for i in range(25):
        await make_listing(
            api, seller, manufacturer=maker, model=f"P{i:02d}", price=f"{100000 + i * 1000}.00"
        )
    page = await people.page()
    await page.goto(f"/?manufacturer={maker}")
    await wait_ready(page)
    summary = page.locator("#result-summary")
    await summary.filter(has_text="Showing 20 of 25 aircraft").wait_for()
    assert await page.locator("#results li").count() == 20
    more = page.get_by_role("button", name="Show more (5 left)")
    await more.click()
    await summary.filter(has_text="25 aircraft").wait_for()
    assert await page.locator("#results li").count() == 25
    await more.wait_for(state="hidden")
    ids = await page.locator("#results li").evaluate_all("els => els.map(el => el.dataset.listingId)")
    assert len(set(ids)) == 25

    await page.locator("#sort-top").select_option("price_desc")
    await page.locator("#results li").first.filter(has_text="$124,000").wait_for()
    assert "sort=price_desc" in page.url
    await page.locator("#sort-top").select_option("price_asc")
    await page.locator("#results li").first.filter(has_text="$100,000").wait_for()


async def test_save_this_search_asks_anonymous_people_to_log_in(people, api):
    page = await people.page()
    await page.goto("/?q=cessna")
    await wait_ready(page)
    assert await page.get_by_role("button", name="Save this search").count() == 0
    link = page.get_by_role("link", name="Log in to save this search")
    await link.click()
    await page.wait_for_url("**/login?next=*")
    await page.get_by_role("heading", name="Log in").wait_for()

    buyer = await people.create("buyer", level=1)
    signed_in = await people.page(buyer)
    await signed_in.goto("/?q=cessna")
    await wait_ready(signed_in)
    assert await signed_in.get_by_role("button", name="Save this search").is_visible()
    assert await signed_in.get_by_role("link", name="Log in to save this search").count() == 0

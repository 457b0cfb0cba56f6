"""A buyer finds a listing by a misspelled query and watches it change live; two buyers race for a hold."""

from __future__ import annotations

import asyncio
import re

from tests.e2e.conftest import make_listing, screenshot, subscribed, wait_ready


async def test_misspelled_search_finds_the_listing_and_a_price_change_shows_live(people, api):
    seller = await people.create("seller", level=1)
    buyer = await people.create("buyer", level=2)
    listing = await make_listing(
        api, seller, locationCountry="IS", locationCity="Reykjavik", price="389000.00"
    )

    page = await people.page(buyer)
    await page.goto("/")
    await wait_ready(page)
    await page.get_by_label("Search aircraft").press_sequentially("cesna 172", delay=30)
    await page.get_by_label("Country (ISO code)").fill("IS")
    await page.get_by_label("Country (ISO code)").dispatch_event("change")
    result = page.locator(f"#results li[data-listing-id='{listing['id']}']")
    await result.wait_for()
    assert "q=cesna+172" in page.url
    await screenshot(page, "search")
    await result.locator("a.title").click()  # the card also links its seller
    await page.wait_for_url(f"**/listings/{listing['id']}")
    price = page.locator("#listing-price")
    assert await price.inner_text() == "$389,000"
    await page.locator("#conn[data-status='live']").wait_for()
    await subscribed(page, f"listing:{listing['id']}")
    await page.evaluate("window.__sameDocument = true")

    # The seller edits the price in another browser.
    seller_page = await people.page(seller)
    await seller_page.goto(f"/sell/{listing['id']}")
    await wait_ready(seller_page)
    await seller_page.get_by_label("Price").fill("359000")
    await screenshot(seller_page, "sell")
    await seller_page.get_by_role("button", name="Save changes").click()
    await seller_page.get_by_text("Saved.").wait_for()

    await page.locator("#listing-price", has_text="$359,000").wait_for()
    assert await page.evaluate("window.__sameDocument") is True, "the page reloaded instead of updating live"
    assert re.search(
        r"Price changed from \$389,000 to \$359,000", await page.locator("#live-note").inner_text()
    )
    await screenshot(page, "listing")


async def test_two_buyers_race_for_a_hold_and_each_sees_the_right_outcome(people, api):
    seller = await people.create("seller", level=1)
    buyers = [await people.create("buyer", level=2) for _ in range(2)]
    listing = await make_listing(api, seller)
    pages = []
    for buyer in buyers:
        page = await people.page(buyer)
        await page.goto(f"/listings/{listing['id']}")
        await wait_ready(page)
        await page.locator("#place-hold").wait_for()
        await page.locator("#conn[data-status='live']").wait_for()
        pages.append(page)

    # Both clicks are dispatched before either answer arrives: the two requests race on the server.
    await asyncio.gather(*(page.locator("#place-hold").dispatch_event("click") for page in pages))
    outcomes = []
    for page in pages:
        await page.locator("#hold-outcome").wait_for()
        outcomes.append(await page.locator("#hold-outcome").inner_text())
    winners = [i for i, text in enumerate(outcomes) if text.startswith("You got it")]
    assert len(winners) == 1, outcomes
    winner, loser = pages[winners[0]], pages[1 - winners[0]]
    assert outcomes[1 - winners[0]] == "Another buyer got it first — you are #1 on the waitlist."
    await loser.get_by_role("button", name="Leave waitlist").wait_for()
    # The loser's page also learned live that the listing is on hold.
    await loser.locator("#listing-status", has_text="on hold").wait_for()

    # The winner lets go: the next in line is offered the hold, live.
    await winner.get_by_role("button", name="Release hold").click()
    await winner.get_by_text("Hold released").wait_for()
    await loser.locator("#hold-outcome", has_text="Your turn").wait_for()
    await loser.get_by_role("button", name="Release hold").wait_for()

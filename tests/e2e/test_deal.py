"""A trade in two browsers: offer → counter → accept → deposit through the sandbox → close (SPEC §6)."""

from __future__ import annotations

from tests.e2e.conftest import make_listing, screenshot, subscribed, wait_ready


async def test_offer_counter_accept_deposit_close(people, api):
    seller = await people.create("seller", level=1)
    buyer = await people.create("buyer", level=2)
    listing = await make_listing(api, seller, price="389000.00")

    buyer_page = await people.page(buyer)
    await buyer_page.goto(f"/listings/{listing['id']}")
    await wait_ready(buyer_page)
    await subscribed(buyer_page, f"user:{buyer['id']}")
    await buyer_page.locator("#offer-amount").fill("350000.00")
    await buyer_page.locator("#offer-deposit").fill("35000.00")
    await buyer_page.locator("#make-offer").click()
    await buyer_page.get_by_text("Offer sent to the seller.").wait_for()
    mine = buyer_page.locator("#my-offers .offer-row")
    await mine.first.wait_for()
    assert await mine.first.get_attribute("data-turn") == "seller"

    # The seller counters from the offers page, which showed the new offer live.
    seller_page = await people.page(seller)
    await seller_page.goto("/offers?role=seller")
    await wait_ready(seller_page)
    row = seller_page.locator(".offer-row").first
    await row.wait_for()
    await row.locator(".counter-amount").fill("370000.00")
    await row.locator(".counter-offer").click()
    await seller_page.locator(".offer-row[data-status='countered']").wait_for()
    await screenshot(seller_page, "offers")

    # The buyer sees the counter live and accepts.
    countered = buyer_page.locator("#my-offers .offer-row[data-status='countered'][data-turn='buyer']")
    await countered.wait_for()
    assert "$370,000" in await countered.locator(".offer-amount").inner_text()
    await countered.locator(".accept-offer").click()
    await buyer_page.wait_for_url("**/deals/**")
    await wait_ready(buyer_page)
    deal_id = buyer_page.url.rsplit("/", 1)[-1]
    listing_now = (await api.get(f"/api/listings/{listing['id']}")).json()
    assert listing_now["status"] == "under_contract"

    # Deposit through the sandbox provider: its Stripe-signed event confirms it.
    await buyer_page.locator("#pay-deposit").click()
    await buyer_page.locator("#confirm-payment").click()
    await buyer_page.locator("#deposit-status", has_text="paid").wait_for()
    await screenshot(buyer_page, "deal")

    await seller_page.goto(f"/deals/{deal_id}")
    await wait_ready(seller_page)
    await seller_page.locator("#close-deal").click()
    await seller_page.locator("#deal-status", has_text="closed").wait_for()
    assert (await api.get(f"/api/listings/{listing['id']}")).json()["status"] == "sold"
    deal = (await api.get(f"/api/deals/{deal_id}", headers=seller["headers"])).json()
    assert deal["commission"]["amount"] == "11100.00"  # 3% of 370,000 (basic plan)


async def test_broker_dashboard_opens_with_state_and_shows_offers_live(people, api):
    broker = await people.create("broker", level=2)
    buyer = await people.create("buyer", level=2)
    listing = await make_listing(api, broker)
    page = await people.page(broker)
    await page.goto("/dashboard")
    await wait_ready(page)
    await page.locator(f"#my-listings tr[data-listing-id='{listing['id']}']").wait_for()
    assert not await page.locator("#counters").is_visible()  # connection counters sit behind Diagnostics
    await subscribed(page, f"user:{broker['id']}")
    made = await api.post(
        f"/api/listings/{listing['id']}/offers",
        json={"amount": "300000.00", "currency": "USD"},
        headers=buyer["headers"],
    )
    assert made.status_code == 201, made.text
    await page.locator(f"#incoming-offers .offer-row[data-offer-id='{made.json()['id']}']").wait_for()
    await page.locator(
        f"#my-listings tr[data-listing-id='{listing['id']}'] .open-offers", has_text="1"
    ).wait_for()
    await screenshot(page, "dashboard-offers")

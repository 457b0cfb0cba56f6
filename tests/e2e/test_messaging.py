"""Buyer ↔ broker in two browser contexts: message the seller from a listing, the broker's live inbox,
read ticks, typing and replies, all live (issue 13 "Screens")."""

from __future__ import annotations

from tests.e2e.conftest import make_listing, screenshot, subscribed, wait_ready


async def test_buyer_and_broker_see_each_others_messages_and_read_receipts_live(people, api):
    broker = await people.create("broker", level=1)
    buyer = await people.create("buyer", level=1)
    listing = await make_listing(api, broker, manufacturer="Cessna", model="Citation CJ3", price="5200000.00")

    # The broker's dashboard is open with its live inbox panel.
    dash = await people.page(broker)
    await dash.goto("/dashboard")
    await wait_ready(dash)
    await dash.locator("#inbox-panel").wait_for()
    await subscribed(dash, f"user:{broker['id']}")

    # The buyer, on a phone-sized screen, writes from the listing page.
    phone = await people.page(buyer, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await phone.goto(f"/listings/{listing['id']}")
    await wait_ready(phone)
    box = phone.locator("#message-seller")
    await box.get_by_label("Your question").fill("Hi! Are the <b>logbooks</b> complete?")
    await box.get_by_role("button", name="Send message").click()
    await phone.wait_for_url("**/messages/*")
    thread_id = phone.url.rsplit("/", 1)[-1]
    mine = phone.locator("#messages li.mine").first
    await mine.wait_for()
    assert (
        await mine.locator(".text").inner_text() == "Hi! Are the <b>logbooks</b> complete?"
    )  # text, not HTML
    await subscribed(phone, f"thread:{thread_id}")
    await screenshot(phone, "thread-phone")

    # Within a second the broker's inbox shows the thread with one unread message.
    item = dash.locator(f"#dash-threads li[data-thread-id='{thread_id}']")
    await item.wait_for(timeout=3000)
    assert await item.locator("[data-testid='unread']").inner_text() == "1"
    await screenshot(dash, "dashboard-inbox")

    # The broker opens it: the buyer's tick turns to read, live.
    await item.get_by_role("link").first.click()
    await dash.wait_for_url(f"**/messages/{thread_id}")
    await dash.locator("#messages li.theirs").first.wait_for()
    await phone.locator("#messages li.mine [data-testid='tick'][data-state='read']").wait_for()

    # The broker types: the buyer sees the indicator; then the reply arrives live.
    await subscribed(dash, f"thread:{thread_id}")
    await dash.get_by_label("Message").press_sequentially("Yes, all", delay=20)
    await phone.locator("#typing", has_text="is typing").wait_for()
    await dash.get_by_label("Message").press_sequentially(" of them, since new.", delay=5)
    await dash.get_by_role("button", name="Send").click()
    reply = phone.locator("#messages li.theirs .text", has_text="Yes, all of them, since new.")
    await reply.wait_for()
    # The broker's own message shows exactly once (optimistic bubble reconciled by clientId), then read.
    assert await dash.locator("#messages li.mine").count() == 1
    await dash.locator("#messages li.mine [data-testid='tick'][data-state='read']").wait_for()
    await screenshot(dash, "thread-broker")

    # Back in the inbox, nothing is unread for either side.
    await phone.goto("/messages")
    await wait_ready(phone)
    row = phone.locator(f"#thread-list li[data-thread-id='{thread_id}']")
    await row.wait_for()
    assert await row.locator("[data-testid='unread']").is_hidden()

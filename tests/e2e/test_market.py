"""Market intelligence in the browser: the listing page draws the estimate band, links the comparables,
charts the type's market trend (rollups kept by the live worker) and shows the owner a dumping flag; the
"What is my aircraft worth?" page values an aircraft that is not listed."""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.e2e.conftest import make_listing, screenshot, wait_ready


async def _eventually(check, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.5)


async def test_listing_page_and_worth_page_show_valuation_comparables_trend_and_risk(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    other = await people.create("seller", level=1, plan="enterprise")
    model = f"Meridian {uuid.uuid4().hex[:5]}"
    comps = [
        await make_listing(
            api, other, manufacturer="Piper", model=model, price=price, yearManufactured=2015 + i % 2
        )
        for i, price in enumerate(["1900000.00", "2000000.00", "2100000.00", "1950000.00"])
    ]
    dumped = await make_listing(
        api, seller, manufacturer="Piper", model=model, price="600000.00", yearManufactured=2015
    )

    async def trend_ready():
        response = await api.get("/api/analytics/prices", params={"manufacturer": "Piper", "model": model})
        return response.status_code == 200 and response.json()["series"]

    async def flagged():
        response = await api.get(f"/api/listings/{dumped['id']}/risk", headers=seller["headers"])
        return any(f["code"] == "price_below_market" for f in response.json()["flags"])

    # The live worker consumes the outbox every 2 s: rollups and the flag follow within seconds.
    await _eventually(trend_ready)
    await _eventually(flagged)

    buyer_page = await people.page()
    await buyer_page.goto(f"/listings/{comps[0]['id']}")
    await wait_ready(buyer_page)
    band = buyer_page.locator("[data-testid=estimate-band] svg rect.band")
    await band.wait_for(timeout=20_000)  # three API reads in a row (estimate, risk, trend) on a busy runner
    links = buyer_page.locator("[data-testid=comparables] a")
    await links.first.wait_for()
    assert await links.count() >= 3
    hrefs = {await links.nth(i).get_attribute("href") for i in range(await links.count())}
    assert f"/listings/{comps[0]['id']}" not in hrefs  # never its own comparable
    # A flat one-period line has no height, which Playwright calls hidden: the drawing is what counts.
    await buyer_page.locator("[data-testid=trend-chart] svg polygon.range").wait_for()
    assert await buyer_page.locator("[data-testid=trend-chart] svg path.line").count() == 1
    assert await buyer_page.locator("[data-testid=risk-flags]").count() == 0  # not the owner
    await screenshot(buyer_page, "market-listing")

    owner_page = await people.page(seller)
    await owner_page.goto(f"/listings/{dumped['id']}")
    await wait_ready(owner_page)
    risk = owner_page.locator("[data-testid=risk-flags]")
    await risk.wait_for()
    assert "price below market" in (await risk.inner_text()).lower()
    await owner_page.locator("[data-testid=estimate-band] svg circle.asking").wait_for()

    admin = await people.create("admin", level=3)
    admin_page = await people.page(admin)
    await admin_page.goto("/admin")
    await wait_ready(admin_page)
    flagged_row = admin_page.locator("[data-testid=risk-admin] article", has_text=model)
    await flagged_row.wait_for()
    assert "price below market" in (await flagged_row.inner_text()).lower()

    broker = await people.create("broker", level=1, plan="enterprise")
    await make_listing(
        api, broker, manufacturer="Piper", model=model, price="2050000.00", yearManufactured=2016
    )
    broker_page = await people.page(broker)
    await broker_page.goto("/dashboard")
    await wait_ready(broker_page)
    movement = broker_page.locator("[data-testid=market-movement] li", has_text=model)
    await movement.wait_for()
    assert "median" in await movement.inner_text()
    assert await movement.locator("svg path.line").count() == 1

    worth = await people.page()
    await worth.goto("/market")
    await wait_ready(worth)
    await worth.get_by_label("Manufacturer").fill("Piper")
    await worth.get_by_label("Model").fill(model)
    await worth.get_by_label("Year built").fill("2015")
    await worth.get_by_label("Total hours").fill("1300")
    await worth.get_by_role("button", name="Estimate").click()
    await worth.locator("#worth-result [data-testid=estimate-band] svg rect.band").wait_for()
    assert await worth.locator("#worth-result [data-testid=comparables] a").count() >= 3
    await worth.locator("#worth-result [data-testid=trend-chart] svg").wait_for()
    await screenshot(worth, "market-worth")

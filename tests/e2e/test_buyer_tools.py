"""What buyers expect from the best aircraft marketplaces (issue 20), on a 390 x 844 phone: a watchlist that
follows prices and statuses live (and drops a listing that leaves public view), side-by-side comparison of
up to four aircraft at a shareable address, seller and broker profiles with their inventory, and a search
home that browses by category with counts."""

from __future__ import annotations

import os
import re
import uuid

import asyncpg
import httpx

from tests.e2e.conftest import make_listing, screenshot, subscribed, wait_ready

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def fits_the_phone(page) -> None:
    wide = await page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.compare-scroll'))"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().right)"
    )
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390, wide


async def patch(api: httpx.AsyncClient, seller: dict, listing: dict, **fields) -> None:
    response = await api.patch(f"/api/listings/{listing['id']}", json=fields, headers=seller["headers"])
    assert response.status_code == 200, response.text


async def test_watchlist_follows_price_and_status_live_and_hides_what_leaves_public_view(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    maker = f"Watch{uuid.uuid4().hex[:6]}"
    first = await make_listing(api, seller, manufacturer=maker, model="W1", price="410000.00")
    second = await make_listing(api, seller, manufacturer=maker, model="W2", price="520000.00")
    buyer = await people.create("buyer")
    context = await people.context(buyer, **PHONE)
    page = await context.new_page()

    # From a search card…
    await page.goto(f"/?manufacturer={maker}")
    await wait_ready(page)
    card_watch = page.locator(f"#results li[data-listing-id='{first['id']}'] .watch-toggle")
    await card_watch.click()
    await page.locator(
        f"#results li[data-listing-id='{first['id']}'] .watch-toggle[aria-pressed='true']"
    ).wait_for()
    await fits_the_phone(page)
    # …and from the listing page.
    await page.goto(f"/listings/{second['id']}")
    await wait_ready(page)
    await page.get_by_role("button", name=f"☆ Watch 2018 {maker} W2").click()
    await page.locator(".watch-toggle[aria-pressed='true']").wait_for()

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Watchlist").click()
    await page.get_by_role("heading", name="Watchlist").wait_for()
    items = page.locator("#watchlist li.watch-item")
    await items.nth(1).wait_for()
    assert await items.count() == 2
    first_row = page.locator(f"#watchlist li[data-listing-id='{first['id']}']")
    assert "$410,000" in await first_row.inner_text()
    await subscribed(page, f"listing:{first['id']}")
    await subscribed(page, f"listing:{second['id']}")
    await fits_the_phone(page)
    await screenshot(page, "watchlist")

    # The seller drops the price: the watchlist shows it without a reload.
    await patch(api, seller, first, price="389000.00")
    await first_row.locator("[data-testid='watch-price']").filter(has_text="$389,000").wait_for()
    await first_row.get_by_text("Price changed from $410,000 to $389,000").wait_for()
    # A status change shows too.
    await patch(api, seller, second, status="under_contract")
    second_row = page.locator(f"#watchlist li[data-listing-id='{second['id']}']")
    await second_row.locator("[data-testid='status']").filter(has_text="under contract").wait_for()

    # Taken back to draft: no longer available, and nothing of it stays on screen.
    await patch(api, seller, first, status="draft", description="Private note: reserve 350k")
    await first_row.get_by_text("No longer available").wait_for()
    text = await first_row.inner_text()
    assert first["tailNumber"] not in text and "$" not in text and "W1" not in text
    await page.reload()
    await wait_ready(page)
    await first_row.get_by_text("No longer available").wait_for()
    assert first["tailNumber"] not in await page.locator("#main").inner_text()

    # Removing it takes it off the list.
    await first_row.get_by_role("button", name="Remove unavailable aircraft").click()
    await first_row.wait_for(state="detached")
    assert await items.count() == 1


async def test_compare_up_to_four_side_by_side_at_a_shareable_address(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    maker = f"Cmp{uuid.uuid4().hex[:6]}"
    made = []
    for i in range(5):
        specs = {"engineType": "piston", "maxPassengers": 4 + (i % 2), "maxRangeNm": 600 + 100 * i,
                 "maxSpeedKts": 140, "avionics": ["Garmin G1000 NXi"]}  # fmt: skip
        made.append(
            await make_listing(
                api,
                seller,
                manufacturer=maker,
                model=f"C{i}",
                price=f"{300000 + 10000 * i}.00",
                specifications=specs,
            )
        )
    page = await people.page(**PHONE)
    await page.goto(f"/?manufacturer={maker}&sort=price_asc")
    await wait_ready(page)
    await page.locator("#results li").nth(4).wait_for()
    picks = page.locator("#results .compare-pick")
    for i in range(4):
        await picks.nth(i).check()
    await page.locator("#compare-count").filter(has_text="4 of 4 picked").wait_for()
    # A fifth pick is refused, and the page says why.
    await picks.nth(4).click()
    await page.locator("#compare-message").filter(has_text="You can compare up to four aircraft").wait_for()
    assert not await picks.nth(4).is_checked()
    await fits_the_phone(page)

    await page.locator("#compare-open").click()
    await page.wait_for_url("**/compare?ids=*")
    await page.get_by_role("heading", name="Compare aircraft").wait_for()
    columns = page.locator(".compare-table thead th[data-listing-id]")
    await columns.nth(3).wait_for()
    assert await columns.count() == 4
    rows = [await r.inner_text() for r in await page.locator(".compare-table tbody th").all()]
    for label in (
        "Price",
        "Year",
        "Total hours",
        "Engine",
        "Avionics",
        "Range",
        "Speed",
        "Seats",
        "Location",
        "Verified",
    ):
        assert any(r.startswith(label) for r in rows), (label, rows)
    # Differences are highlighted; what is the same is not.
    assert await page.locator("tr.differs[data-row='Price']").count() == 1
    assert await page.locator("tr.differs[data-row='Range']").count() == 1
    assert await page.locator("tr.same[data-row='Engine']").count() == 1
    await page.locator("#only-differences").check()
    assert await page.locator("tr[data-row='Engine']").is_hidden()
    assert await page.locator("tr[data-row='Price']").is_visible()
    # On the phone the table scrolls sideways inside its box; the page itself does not.
    await fits_the_phone(page)
    assert await page.locator("#compare").evaluate("el => el.scrollWidth > el.clientWidth")
    await screenshot(page, "compare")

    # The address is the comparison: someone else opening it sees the same four aircraft.
    shared = page.url
    ids = shared.split("ids=")[1].split(",")
    assert set(ids) == {m["id"] for m in made[:4]}
    other = await people.page()
    await other.goto(shared)
    await wait_ready(other)
    await other.locator(".compare-table thead th[data-listing-id]").nth(3).wait_for()
    assert await other.locator(".compare-table thead th[data-listing-id]").count() == 4
    # Removing one updates the address; five ids in an address show four and say so.
    await other.get_by_role("button", name=f"Remove 2018 {maker} C0").click()
    await other.wait_for_function("() => location.search.split(',').length === 3")
    assert made[0]["id"] not in other.url
    await other.goto(f"/compare?ids={','.join(m['id'] for m in made)}")
    await wait_ready(other)
    await other.get_by_text("You can compare up to four aircraft").first.wait_for()
    assert await other.locator(".compare-table thead th[data-listing-id]").count() == 4


async def test_broker_profile_shows_public_facts_and_paged_inventory(people, api):
    broker = await people.create("broker", level=2, plan="enterprise")
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(
            "UPDATE users SET first_name = 'Grace', last_name = 'Hopper', company_name = 'Harbor Jet Brokers',"
            " phone = '+15550199' WHERE id = $1",
            uuid.UUID(broker["id"]),
        )
    finally:
        await conn.close()
    maker = f"Prof{uuid.uuid4().hex[:6]}"
    stock = [await make_listing(api, broker, manufacturer=maker, model=f"P{i:02d}") for i in range(14)]
    draft = await api.post(
        "/api/listings?draft=true",
        json={**{k: stock[0][k] for k in ("yearManufactured", "hoursTotal", "price", "currency", "locationCountry",
              "locationCity")}, "manufacturer": maker, "model": "SECRET DRAFT", "tailNumber": f"N{uuid.uuid4().hex[:5].upper()}"},
        headers=broker["headers"],
    )  # fmt: skip
    assert draft.status_code == 201, draft.text

    page = await people.page(**PHONE)
    # From a listing page: "Listed by" links the profile.
    await page.goto(f"/listings/{stock[0]['id']}")
    await wait_ready(page)
    await page.locator("#seller-line").get_by_role("link", name="Grace Hopper").click()
    await page.wait_for_url(f"**/sellers/{broker['id']}")
    await page.get_by_role("heading", name="Grace Hopper").wait_for()
    assert await page.locator("#profile-company").inner_text() == "Harbor Jet Brokers"
    assert "Verified company" in await page.locator("#profile-verified").inner_text()
    assert re.fullmatch(r"[A-Z][a-z]+ \d{4}", await page.locator("#profile-since").inner_text())
    assert await page.locator("#profile-count").inner_text() == "14 aircraft"
    assert await page.title() == "Grace Hopper, Harbor Jet Brokers — ATP"
    cards = page.locator("#inventory li.result")
    await cards.nth(11).wait_for()
    assert await cards.count() == 12
    await page.get_by_role("button", name="Show more (2 left)").click()
    await cards.nth(13).wait_for()
    assert await cards.count() == 14
    text = await page.locator("#main").inner_text()
    assert "SECRET DRAFT" not in text and broker["email"] not in text and "+15550199" not in text
    await fits_the_phone(page)
    await screenshot(page, "seller-profile")

    # From a search card too.
    await page.goto(f"/?manufacturer={maker}")
    await wait_ready(page)
    await page.locator("#results li").first.get_by_role("link", name=re.compile("^Seller")).click()
    await page.wait_for_url(f"**/sellers/{broker['id']}")
    await page.get_by_role("heading", name="Grace Hopper").wait_for()


async def test_search_home_browses_by_category_with_counts_sort_and_totals(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    heli = await make_listing(
        api, seller, manufacturer="Robinson", model="R22 Beta II", price="210000.00",
        specifications={"engineType": "piston", "maxPassengers": 1},
    )  # fmt: skip
    await make_listing(
        api, seller, manufacturer="Cessna", model="Citation CJ3", price="4100000.00",
        specifications={"engineType": "jet", "maxPassengers": 7},
    )  # fmt: skip
    counts = (await api.get("/api/search", params={"facets": "category", "limit": 1})).json()["facets"][
        "category"
    ]
    jets = sum(n for name, n in counts.items() if name.endswith("_jet"))
    assert counts["helicopter"] >= 1 and jets >= 1

    page = await people.page(**PHONE)
    await page.goto("/")
    await wait_ready(page)
    browse = page.get_by_role("navigation", name="Browse by category")
    await browse.wait_for()
    assert await browse.locator("a[data-category='jet'] .category-count").inner_text() == f"{jets:,}"
    helicopters = browse.locator("a[data-category='helicopter']")
    assert await helicopters.locator(".category-count").inner_text() == f"{counts['helicopter']:,}"
    await fits_the_phone(page)
    await screenshot(page, "search-home")

    await helicopters.click()
    await page.wait_for_url("**/?category=helicopter")
    await page.locator(f"#results li[data-listing-id='{heli['id']}']").wait_for()
    summary = await page.locator("#result-summary").inner_text()
    assert str(counts["helicopter"]) in summary and "aircraft" in summary
    # A chosen category is a search, not the home: the category links give way to the results.
    assert await page.locator("#categories").count() == 0
    # Sort is there and works.
    await page.locator("#sort-top").select_option("price_desc")
    await page.wait_for_url("**sort=price_desc**")
    # The address changes as the request leaves; the sorted page replaces the list when it arrives.
    values: list[int] = []
    for _ in range(80):
        prices = await page.locator("#results .price").all_inner_texts()
        values = [int(re.sub(r"[^\d]", "", p)) for p in prices]
        if values and values == sorted(values, reverse=True):
            break
        await page.wait_for_timeout(100)
    assert values and values == sorted(values, reverse=True), values
    await fits_the_phone(page)


async def test_watchlist_compare_and_profile_read_offline_with_an_as_of_note(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    buyer = await people.create("buyer")
    listing = await make_listing(api, seller, manufacturer="Daher", model="TBM 960", price="5100000.00")
    other = await make_listing(api, seller, manufacturer="Pilatus", model="PC-12 NGX", price="6200000.00")
    response = await api.put(f"/api/watchlist/{listing['id']}", headers=buyer["headers"])
    assert response.status_code == 201, response.text
    context = await people.context(buyer, **PHONE)
    page = await context.new_page()
    await page.goto("/watchlist")
    await wait_ready(page)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # From the next load on the worker controls the page and keeps what it reads.
    compare = f"/compare?ids={listing['id']},{other['id']}"
    for path in ("/watchlist", compare, f"/sellers/{seller['id']}"):
        await page.goto(path)
        await wait_ready(page)
        assert await page.evaluate("Boolean(navigator.serviceWorker.controller)")
        await page.locator("#main h1").first.wait_for()
    await page.locator(".compare-table, #inventory").first.wait_for()

    await context.set_offline(True)
    await page.goto("/watchlist")
    await wait_ready(page)
    await (
        page.locator("#offline-note").filter(has_text="You are offline: prices and statuses as of").wait_for()
    )
    row = page.locator(f"#watchlist li[data-listing-id='{listing['id']}']")
    assert "$5,100,000" in await row.inner_text()
    await page.goto(compare)
    await wait_ready(page)
    await page.get_by_text("You are offline: prices and statuses as of").wait_for()
    assert await page.locator(".compare-table thead th[data-listing-id]").count() == 2
    await page.goto(f"/sellers/{seller['id']}")
    await wait_ready(page)
    await page.get_by_text("You are offline: as of").wait_for()
    await fits_the_phone(page)
    await context.set_offline(False)

"""The buyer's marketplace (issue 20): pages of results, counts and sort; saving a search asks anonymous
people to log in; pages gated by role; the app's not-found page."""

from __future__ import annotations

import re
import uuid

from tests.e2e.conftest import make_listing, subscribed, wait_ready


async def test_search_pages_through_every_result_with_counts_and_sort(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
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
    await page.locator("#results li").nth(24).wait_for()
    await summary.filter(has_text=re.compile(r"^25 aircraft$")).wait_for()
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


async def test_pages_are_gated_by_role_and_unknown_pages_get_the_app(people, api):
    buyer = await people.create("buyer", level=1)
    page = await people.page(buyer)
    admin_calls: list[str] = []
    page.on("request", lambda r: admin_calls.append(r.url) if "/api/admin" in r.url else None)
    for path, who in (
        ("/dashboard", "brokers and administrators"),
        ("/sell", "sellers"),
        ("/admin", "administrators"),
    ):
        await page.goto(path)
        await wait_ready(page)
        await page.get_by_role("heading", name="This page is not available to your account").wait_for()
        assert who in await page.locator("#forbidden").inner_text()
    assert admin_calls == []
    # The navigation offers only what the account may open.
    nav = page.locator("#nav")
    assert await nav.get_by_role("link", name="Dashboard").count() == 0
    assert await nav.get_by_role("link", name="Admin").count() == 0

    anonymous = await people.page()
    await anonymous.goto("/admin")
    await anonymous.wait_for_url("**/login?next=%2Fadmin")

    response = await anonymous.goto("/no/such/page")
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    await anonymous.get_by_role("heading", name="Page not found").wait_for()
    # Machines keep problem+json, whatever they accept.
    for path in ("/api/no-such-thing", "/static/missing.js"):
        miss = await api.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
        assert miss.status_code == 404
        assert miss.headers["content-type"].startswith("application/problem+json")


async def test_compressed_assets_batched_stats_quiet_anonymous_pages_stable_admin(people, api):
    for path in ("/static/app.js", "/static/app.css", "/api/search?limit=50"):
        response = await api.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200
        assert response.headers.get("content-encoding") in ("br", "gzip"), path
        assert "accept-encoding" in response.headers.get("vary", "").lower()

    # An anonymous visitor: no refresh attempt (no 401 in the console), no console errors at all.
    page = await people.page()
    errors: list[str] = []
    refreshes: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: refreshes.append(r.url) if r.url.endswith("/api/auth/refresh") else None)
    await page.goto("/?q=cessna")
    await wait_ready(page)
    await page.goto("/listings/00000000-0000-0000-0000-000000000000")
    await wait_ready(page)
    assert refreshes == []
    assert [e for e in errors if "404" not in e] == []

    # /sell: one stats request for every listing, not one each.
    seller = await people.create("seller", level=1, plan="enterprise")
    made = [await make_listing(api, seller, model=f"Stat {i}") for i in range(4)]
    page = await people.page(seller)
    stats_calls: list[str] = []
    page.on("request", lambda r: stats_calls.append(r.url) if "/stats" in r.url else None)
    await page.goto("/sell")
    await wait_ready(page)
    for listing in made:
        await page.locator(f"[data-stats-for='{listing['id']}']", has_text="views").wait_for()
    assert len(stats_calls) == 1 and "/api/listings/stats?" in stats_calls[0]

    # /admin does not move under the reader while its sections load.
    admin = await people.create("admin", level=3)
    page = await people.page(admin)
    await page.goto("/admin")
    await wait_ready(page)
    await page.locator("#admin-listings tr").first.wait_for()
    await page.wait_for_timeout(500)
    shift = await page.evaluate(
        """() => new Promise((done) => {
            let total = 0;
            new PerformanceObserver((list) => {
                for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
            }).observe({ type: "layout-shift", buffered: true });
            setTimeout(() => done(total), 300);
        })"""
    )
    assert shift < 0.1, shift


async def test_first_result_above_the_fold_on_a_phone(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    await make_listing(api, seller, manufacturer="Cirrus", model="SR22T", price="925000.00")
    context = await people.context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await page.goto("/?q=cirrus")
    await wait_ready(page)
    first = page.locator("#results li").first
    await first.wait_for()
    box = await first.bounding_box()
    assert box["y"] + box["height"] <= 844, box  # the whole first card, not just its top edge
    assert not await page.locator("details:has(.filters)").evaluate("d => d.open")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_kind_of_aircraft_words_and_filters_find_the_right_aircraft(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    country = "IS"
    jet = await make_listing(
        api,
        seller,
        manufacturer="Cessna",
        model="Citation CJ3",
        locationCountry=country,
        specifications={
            "engineType": "jet",
            "maxPassengers": 7,
            "maxRangeNm": 2040,
            "latitude": 64.13,
            "longitude": -21.94,
        },
    )
    ranger = await make_listing(
        api,
        seller,
        manufacturer="Bell",
        model="505 Jet Ranger X",
        locationCountry=country,
        specifications={"engineType": "turboshaft", "maxPassengers": 5, "maxRangeNm": 360},
    )
    robinson = await make_listing(
        api,
        seller,
        manufacturer="Robinson",
        model="R44 Raven II",
        locationCountry=country,
        specifications={"engineType": "piston", "maxPassengers": 3, "maxRangeNm": 300},
    )

    async def shows(page, *listings) -> None:
        """The results become exactly these listings (the search runs as the filters change)."""
        expected = sorted(item["id"] for item in listings)
        try:
            await _wait_ids(page, expected)
        except Exception:
            names = await page.locator("#results li .title").all_inner_texts()
            raise AssertionError(f"{page.url}: {names} != {[item['model'] for item in listings]}") from None

    async def _wait_ids(page, expected) -> None:
        await page.wait_for_function(
            """(expected) => {
                const ids = [...document.querySelectorAll("#results li")].map((el) => el.dataset.listingId);
                return JSON.stringify(ids.sort()) === JSON.stringify(expected);
            }""",
            arg=expected,
            timeout=15_000,
        )

    page = await people.page()
    await page.goto(f"/?q=jet&country={country}")
    await wait_ready(page)
    await shows(page, jet)
    await page.goto(f"/?q=helicopter&country={country}")
    await wait_ready(page)
    await shows(page, ranger, robinson)
    await page.goto(f"/?q=jet+ranger&country={country}")
    await wait_ready(page)
    await shows(page, ranger)

    # The filters in the form: kind of aircraft, engine, seats, range.
    await page.goto(f"/?country={country}")
    await wait_ready(page)
    if not await page.locator("details:has(.filters)").evaluate("d => d.open"):
        await page.locator("details:has(.filters) > summary").click()
    await page.get_by_label("Kind of aircraft").select_option("helicopter")
    await page.wait_for_url("**category=helicopter**")
    await shows(page, ranger, robinson)
    await page.get_by_label("Engine").select_option("turboshaft")
    await page.wait_for_url("**engineType=turboshaft**")
    await shows(page, ranger)
    await page.get_by_label("Engine").select_option("")
    await page.get_by_label("Kind of aircraft").select_option("")
    # (other tests list 4-seat Cessnas, some in Iceland too)
    await page.get_by_label("Min seats").fill("5")
    await page.get_by_label("Min seats").dispatch_event("change")
    await page.wait_for_url("**seatsMin=5**")
    await shows(page, jet, ranger)
    await page.get_by_label("Min range (nm)").fill("1000")
    await page.get_by_label("Min range (nm)").dispatch_event("change")
    await page.wait_for_url("**rangeMin=1000**")
    await shows(page, jet)
    # Within a radius of a point (Reykjavik); listings without coordinates are not near anything.
    await page.get_by_label("Min range (nm)").fill("")
    await page.get_by_label("Min seats").fill("")
    await page.get_by_label("Near (lat,lon)").fill("64.1,-21.9")
    await page.get_by_label("Within (km)").fill("50")
    await page.get_by_label("Within (km)").dispatch_event("change")
    await page.wait_for_url("**radiusKm=50**")
    await shows(page, jet)


async def test_verified_badge_says_what_was_checked_and_when(people, api):
    import os

    import asyncpg

    seller = await people.create("seller", level=1, plan="enterprise")
    verified = await make_listing(
        api, seller, manufacturer="Pilatus", model="PC-12 NGX", locationCountry="CH"
    )
    plain = await make_listing(api, seller, manufacturer="Pilatus", model="PC-12 NG", locationCountry="CH")
    # The state an approved aircraft case leaves (the flow itself is tested in tests/verification).
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        case = await conn.fetchval(
            """INSERT INTO verification_cases (subject_id, started_by, verification_type, status, listing_id,
                   tail_number, submitted_at, decided_at)
               VALUES ($1, $1, 'aircraft', 'approved', $2, $3, now() - interval '1 hour', now())
               RETURNING id""",
            uuid.UUID(seller["id"]),
            uuid.UUID(verified["id"]),
            verified["tailNumber"],
        )
        for name in ("documents", "registry", "sanctions"):
            await conn.execute(
                """INSERT INTO verification_checks (case_id, name, status, finished_at)
                   VALUES ($1, $2, 'passed', now())""",
                case,
                name,
            )
        await conn.execute("UPDATE listings SET verified = true WHERE id = $1", uuid.UUID(verified["id"]))
    finally:
        await conn.close()

    proof = await api.get(f"/api/listings/{verified['id']}/verification")
    assert proof.status_code == 200, proof.text
    assert [c["check"] for c in proof.json()["checks"]] == ["documents", "registry", "sanctions"]
    page = await people.page()
    await page.goto("/?q=pilatus&country=CH")
    await wait_ready(page)
    card = page.locator(f"#results li[data-listing-id='{verified['id']}']")
    await card.get_by_text("✓ Verified").wait_for()
    other = page.locator(f"#results li[data-listing-id='{plain['id']}']")
    await other.wait_for()
    assert await other.get_by_text("✓ Verified").count() == 0

    await page.goto(f"/listings/{verified['id']}")
    await wait_ready(page)
    box = page.locator("#verified")
    await box.get_by_role("heading", name="✓ Verified aircraft").wait_for()
    await box.get_by_text("FAA aircraft registry").wait_for()
    await box.get_by_text("sanctions lists").wait_for()
    await box.get_by_text("documents reviewed").wait_for()
    assert verified["tailNumber"] in await box.inner_text()
    assert "Verified by ATP on" in await box.inner_text()

    await page.goto(f"/listings/{plain['id']}")
    await wait_ready(page)
    await page.locator("#verified").get_by_text("Not verified yet").wait_for()


async def test_my_holds_and_waitlists_with_time_zone_and_countdown(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    buyer = await people.create("buyer", level=2)
    rival = await people.create("buyer", level=2)
    mine = await make_listing(api, seller, manufacturer="Diamond", model="DA62")
    theirs = await make_listing(api, seller, manufacturer="Diamond", model="DA42-VI")
    taken = await api.post(
        f"/api/listings/{theirs['id']}/holds",
        json={},
        headers={**rival["headers"], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert taken.status_code == 201, taken.text
    line = await api.post(f"/api/listings/{theirs['id']}/waitlist", headers=buyer["headers"])
    assert line.status_code in (200, 201), line.text

    page = await people.page(buyer, timezone_id="Asia/Tokyo")
    await page.goto(f"/listings/{mine['id']}")
    await wait_ready(page)
    await page.get_by_role("button", name="Hold for 48 hours").click()
    await page.get_by_text("You got it").wait_for()
    # The confirmation once, with the time zone, and a countdown.
    assert await page.get_by_text("hold is yours until").count() == 1
    assert await page.get_by_text("You hold this aircraft until").count() == 0
    assert "GMT+9" in await page.locator("#hold-outcome").inner_text()
    await page.locator("#hold-countdown", has_text="47 h").wait_for()

    await page.get_by_role("link", name="My holds and waitlists").click()
    await page.wait_for_url("**/holds")
    await page.get_by_text("your time zone (Asia/Tokyo)").wait_for()
    hold = page.locator("#my-holds li", has_text="DA62")
    await hold.get_by_text("GMT+9").wait_for()
    first = await hold.locator(".countdown").inner_text()
    await page.wait_for_timeout(1100)
    assert await hold.locator(".countdown").inner_text() != first  # it counts down
    waiting = page.locator("#my-waitlists li", has_text="DA42")
    await waiting.get_by_text("You are #1 in line.").wait_for()
    await waiting.get_by_role("button", name="Leave waitlist").click()
    await page.get_by_text("You are not in line for any aircraft.").wait_for()
    await hold.get_by_role("button", name="Release hold").click()
    await page.get_by_text("No active holds.").wait_for()


async def test_broker_feed_starts_from_now_one_readable_row_per_change_and_client_reservation(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    broker = await people.create("broker", level=2, plan="enterprise")
    buyer = await people.create("buyer", level=2)
    held = await make_listing(api, seller, manufacturer="Daher", model="TBM 960", price="4900000.00")
    priced = await make_listing(api, seller, manufacturer="Daher", model="TBM 940", price="4100000.00")
    response = await api.post(
        f"/api/listings/{held['id']}/holds",
        json={},
        headers={**buyer["headers"], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text

    page = await people.page(broker)
    await page.goto("/dashboard")
    await wait_ready(page)
    # The hold placed before the page opened is there, as current state, with a link.
    now = page.locator(f"#feed li[data-state='on_hold'][data-listing-id='{held['id']}']")
    await now.get_by_role("link", name="TBM 960").wait_for()
    assert "On hold now" in await now.inner_text()
    await subscribed(page, "listings")

    response = await api.patch(
        f"/api/listings/{priced['id']}", json={"price": "3990000.00"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    row = page.locator(f"#feed li[data-event-id][data-listing-id='{priced['id']}']")
    await row.first.wait_for()
    await page.wait_for_timeout(1000)  # the listing.updated twin would land within this
    assert await row.count() == 1
    text = await row.inner_text()
    assert "Price" in text and "listing.price_changed" not in text
    assert "$4,100,000 → $3,990,000" in text
    link = row.get_by_role("link")
    assert await link.get_attribute("href") == f"/listings/{priced['id']}"

    # Register a client's reservation from the dashboard.
    await page.get_by_label("Client's account ID").fill(buyer["id"])
    await page.get_by_label("Aircraft").fill(f"http://example/listings/{priced['id']}")
    await page.get_by_role("button", name="Reserve", exact=True).click()
    await page.locator("#reserve-result").get_by_text("Reserved").wait_for()
    await page.locator("#reservations tr", has_text="TBM 940").wait_for()


async def test_offline_listing_says_as_of_and_the_signed_in_broker_keeps_the_dashboard(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    broker = await people.create("broker", level=2, plan="enterprise")
    listing = await make_listing(api, seller, manufacturer="Pilatus", model="PC-24", price="11500000.00")
    context = await people.context(broker)
    page = await context.new_page()
    await page.goto(f"/listings/{listing['id']}")
    await wait_ready(page)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()  # now the worker controls the page: the listing and the profile are kept
    await wait_ready(page)
    assert await page.evaluate("Boolean(navigator.serviceWorker.controller)")
    await page.locator("#listing-title").wait_for()
    assert await page.locator("#offline-note").count() == 0
    await page.locator("#who", has_text=broker["email"]).wait_for()

    await context.set_offline(True)
    await page.reload()
    await wait_ready(page)
    note = page.locator("#offline-note")
    await note.wait_for()
    assert "You are offline: price and status as of" in await note.inner_text()
    assert await page.locator("#listing-price").inner_text() == "$11,500,000"
    # Still signed in, and the dashboard opens (its shell) instead of a log-in form that cannot work.
    await page.locator("#who", has_text=broker["email"]).wait_for()
    await page.goto("/dashboard")
    await wait_ready(page)
    await page.get_by_role("heading", name="Broker dashboard").wait_for()
    assert "/login" not in page.url
    await context.set_offline(False)


async def test_seller_edits_the_specifications_the_listing_page_shows(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await make_listing(api, seller, manufacturer="Beechcraft", model="King Air 360")
    page = await people.page(seller)
    await page.goto(f"/sell/{listing['id']}")
    await wait_ready(page)
    await page.locator("#s-category").select_option("turboprop")
    await page.locator("#s-engineType").select_option("turboprop")
    await page.get_by_label("Engine hours (since overhaul)").fill("1250")
    await page.get_by_label("Passengers").fill("9")
    await page.get_by_label("Range (nm)").fill("1806")
    await page.get_by_label("Speed (kts)").fill("312")
    await page.get_by_label("Useful load (lbs)").fill("5150")
    await page.get_by_label("Interior").fill("9-seat executive")
    await page.get_by_label("Exterior").fill("Matterhorn white")
    await page.get_by_label("Avionics (one per line)").fill("Collins Pro Line Fusion\nGarmin GTN 750")
    await page.get_by_role("button", name="Save changes").click()
    await page.locator("#listing-form-message").get_by_text("Saved.").wait_for()

    specs = (await api.get(f"/api/listings/{listing['id']}")).json()["specifications"]
    assert specs["engineHours"] == 1250 and specs["maxPassengers"] == 9 and specs["maxRangeNm"] == 1806
    assert specs["maxSpeedKts"] == 312 and specs["usefulLoadLbs"] == 5150 and specs["category"] == "turboprop"
    assert (
        specs["interiorConfiguration"] == "9-seat executive" and specs["exteriorColor"] == "Matterhorn white"
    )
    assert specs["avionics"] == ["Collins Pro Line Fusion", "Garmin GTN 750"]
    assert specs["engineType"] == "turboprop"

    await page.goto(f"/listings/{listing['id']}")
    await wait_ready(page)
    table = page.locator("dl.specs")
    await table.get_by_text("Matterhorn white").wait_for()
    assert "1,250" in await table.inner_text() or "1250" in await table.inner_text()


async def test_share_links_carry_the_listing_title_and_open_graph_tags(people, api):
    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await make_listing(api, seller, manufacturer="Cirrus", model="Vision SF50", price="3250000.00")
    response = await api.get(f"/listings/{listing['id']}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    assert "<title>2018 Cirrus Vision SF50 — ATP</title>" in page
    assert '<meta property="og:title" content="2018 Cirrus Vision SF50">' in page
    assert '<meta property="og:description" content="USD 3,250,000 · Wichita, US">' in page
    assert f'/listings/{listing["id"]}"' in page  # og:url
    # Unknown or malformed ids still get the app, which says the listing is unavailable.
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await api.get(f"/listings/{missing}", headers={"Accept": "text/html"})
        assert response.status_code == 200
        assert "<title>ATP — verified aircraft trading</title>" in response.text
    browser = await people.page()
    await browser.goto(f"/listings/{listing['id']}")
    await wait_ready(browser)
    await browser.locator("#listing-title").wait_for()
    assert await browser.title() == "2018 Cirrus Vision SF50 — ATP"


async def test_photo_gallery_opens_full_screen_with_keyboard_and_swipe(people, api):
    import json
    import os

    import asyncpg

    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await make_listing(api, seller, manufacturer="Piaggio", model="P.180 Avanti EVO")
    images = [
        {
            "id": str(uuid.uuid4()),
            "url": src,
            "thumbnailUrl": src,
            "largeUrl": src,
            "width": 192,
            "height": 192,
        }
        for src in ("/static/icons/icon-192.png", "/static/icons/icon-512.png", "/static/icons/icon-192.png")
    ]
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:  # the state the photo worker leaves (the pipeline itself is tested in test_seller)
        await conn.execute(
            "UPDATE listings SET images = $2::jsonb WHERE id = $1",
            uuid.UUID(listing["id"]),
            json.dumps(images),
        )
    finally:
        await conn.close()
    page = await people.page()
    await page.goto(f"/listings/{listing['id']}")
    await wait_ready(page)
    await page.locator(".gallery a[data-photo='1']").click()
    viewer = page.locator("#viewer")
    await viewer.wait_for()
    count = page.locator("#viewer-count")
    assert await count.inner_text() == "2 / 3"
    await page.keyboard.press("ArrowRight")
    assert await count.inner_text() == "3 / 3"
    await page.keyboard.press("ArrowRight")
    assert await count.inner_text() == "1 / 3"
    await page.keyboard.press("ArrowLeft")
    assert await count.inner_text() == "3 / 3"
    box = await page.locator("#viewer-img").bounding_box()
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.8, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.2, y)
    await page.mouse.up()
    assert await count.inner_text() == "1 / 3"  # swiped left: the next photo
    assert "photo 1 of 3" in await page.locator("#viewer-img").get_attribute("alt")
    await page.keyboard.press("Escape")
    await viewer.wait_for(state="detached")

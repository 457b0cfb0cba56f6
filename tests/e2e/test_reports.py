"""Reports end to end with the real web process and the real worker (`python -m workers`), and the page.

request → 202 → live `report.progress` on the owner's socket → `report.ready` → the signed link's file
opens with openpyxl and holds exactly the rows `GET /api/search` returns for the same filters.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid

import asyncpg
import httpx
import openpyxl
from websockets.asyncio.client import connect

from tests.e2e.conftest import People, make_listing, screenshot, subscribed, wait_ready

LISTINGS = 1200  # three pages of the report's reads: progress has steps to show


async def _seed(seller_id: str, model: str | None, count: int, manufacturer: str = "Cessna") -> None:
    from db.fixtures.catalogue import generate_listings
    from db.fixtures.listings import insert_listings

    rows = [
        (row[0], row[1], manufacturer, model or row[3], *row[4:])
        for row in generate_listings(count, [uuid.UUID(seller_id)], seed=int(uuid.uuid4().int % 10_000))
    ]
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await insert_listings(conn, rows)
    finally:
        await conn.close()


async def _api_rows(api: httpx.AsyncClient, **filters) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {**filters, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/search", params=params)).json()
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


async def _events_until_ready(ws, report_id: str, within_s: float = 60) -> list[dict]:
    seen, deadline = [], time.monotonic() + within_s
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if frame.get("op") == "event" and frame["data"].get("reportId") == report_id:
            seen.append(frame)
            if frame["type"] in ("report.ready", "report.failed"):
                return seen


async def test_market_report_with_the_real_worker_matches_the_api(live, api):
    people = People(live, None)
    seller = await people.create("seller", level=1, plan="enterprise")
    broker = await people.create("broker", level=1, plan="enterprise")
    model = f"E2E-{uuid.uuid4().hex[:8]}"
    # Through the API first: the bulk rows below go straight into the table, past the plan's 1,000.
    evil = await make_listing(
        api,
        seller,
        manufacturer="Cessna",
        model=model,
        description='=HYPERLINK("http://evil.example","Click me")',
    )
    await _seed(seller["id"], model, LISTINGS)

    ticket = (await api.post("/api/realtime/ticket", headers=broker["headers"])).json()["ticket"]
    async with connect(live.url.replace("http", "ws") + f"/ws?ticket={ticket}", open_timeout=5) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": f"user:{broker['id']}"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["op"] == "subscribed"

        response = await api.post(
            "/api/reports", json={"kind": "market", "filters": {"model": model}}, headers=broker["headers"]
        )
        assert response.status_code == 202, response.text
        report_id = response.json()["id"]
        assert response.headers["location"] == f"/api/reports/{report_id}"
        events = await _events_until_ready(ws, report_id)

    types = [e["type"] for e in events]
    assert types[-1] == "report.ready", events
    progress = [e["data"]["progress"] for e in events if e["type"] == "report.progress"]
    assert progress == sorted(progress) and any(0 < p < 100 for p in progress), progress
    ready = events[-1]["data"]

    expected = await _api_rows(api, model=model)
    # The generated catalogue has sold, expired and draft listings too: only what search shows counts.
    assert 1000 < len(expected) <= LISTINGS + 1
    report = (await api.get(f"/api/reports/{report_id}", headers=broker["headers"])).json()
    assert (report["status"], report["rows"], report["downloadUrl"]) == (
        "ready",
        len(expected),
        ready["downloadUrl"],
    )

    download = await api.get(ready["downloadUrl"])  # the signed link: no session needed
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)
    sheet = book["Listings"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    got = {r[header.index("Tail number")]: dict(zip(header, r, strict=True)) for r in rows}
    assert len(rows) == len(got) == len(expected)
    assert set(got) == {item["tailNumber"] for item in expected}
    for item in expected[:: max(1, len(expected) // 25)]:  # spot checks
        row = got[item["tailNumber"]]
        assert row["Price"] == float(item["price"]) and row["Currency"] == item["currency"]
        assert (row["Year"], row["Hours"], row["Status"]) == (
            item["yearManufactured"],
            item["hoursTotal"],
            item["status"],
        )
    assert got[evil["tailNumber"]]["Description"] == '=HYPERLINK("http://evil.example","Click me")'
    # Same order as the API (newest first).
    assert [r[header.index("Tail number")] for r in rows][:50] == [i["tailNumber"] for i in expected[:50]]
    # One statistics row per (type, currency): together they count every listing.
    stats = [r for r in book["Price statistics"].iter_rows(min_row=2, values_only=True) if r[1] == model]
    assert sum(r[3] for r in stats) == len(expected)
    assert {r[2] for r in stats} == {i["currency"] for i in expected}
    book.close()

    # Another user: the report does not exist for them; the link expires into 410.
    other = await people.create("broker", level=1, plan="enterprise")
    assert (await api.get(f"/api/reports/{report_id}", headers=other["headers"])).status_code == 404
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(
            "UPDATE reports SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(report_id)
        )
    finally:
        await conn.close()
    assert (await api.get(ready["downloadUrl"])).status_code == 410


async def test_reports_page_export_button_progress_and_download(people, api, live):
    seller = await people.create("seller", level=1, plan="enterprise")
    broker = await people.create("broker", level=1, plan="enterprise")
    maker = f"Maker{uuid.uuid4().hex[:8]}"
    await _seed(seller["id"], None, 12, manufacturer=maker)
    await _seed(seller["id"], "Special", 30, manufacturer=maker)

    page = await people.page(broker, accept_downloads=True)
    # The search page's button opens the Reports page, which asks for the report of that search at once;
    # the page follows it live (report.progress, report.ready on the user's channel) to its link.
    await page.goto(f"/search?manufacturer={maker}")
    await wait_ready(page)
    await page.locator("#export-excel").click()
    await page.wait_for_url("**/reports")
    await subscribed(page, f"user:{broker['id']}")
    first = page.locator("#report-list li[data-report-id]").first
    await first.locator("[data-testid=download]").wait_for(timeout=60_000)
    every = len(await _api_rows(api, manufacturer=maker))
    assert f"{every} listings" in await first.locator("[data-testid=report-status]").inner_text()

    # Asking from the page itself, with more of the search filters.
    await page.locator("#report-form input[name=manufacturer]").fill(maker)
    await page.locator("#report-form input[name=model]").fill("Special")
    await page.locator("#report-start").click()
    mine = page.locator("#report-list li[data-report-id]").first
    await page.wait_for_function(
        "() => document.querySelectorAll('#report-list li[data-report-id]').length === 2"
    )
    link = mine.locator("[data-testid=download]")
    await link.wait_for(timeout=60_000)
    special = len(await _api_rows(api, manufacturer=maker, model="Special"))
    assert f"{special} listings" in await mine.locator("[data-testid=report-status]").inner_text()
    await screenshot(page, "reports")
    async with page.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".xlsx")
    content = (await download.path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["Listings"]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == special

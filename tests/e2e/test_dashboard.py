"""The broker dashboard survives WebSocket drops: every event shows exactly once, in order."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect

from tests.e2e.conftest import make_listing, screenshot, subscribed, wait_ready

FEED_ROWS = """() => [...document.querySelectorAll('#feed li[data-event-id]')].map(li => ({
    id: li.dataset.eventId, seq: Number(li.dataset.seq), type: li.dataset.type, listing: li.dataset.listingId}))"""


async def _rows_for(page, listing_ids: set[str]) -> list[dict]:
    return [row for row in await page.evaluate(FEED_ROWS) if row["listing"] in listing_ids]


async def _wait_rows(page, listing_ids: set[str], count: int, within_s: float = 8) -> list[dict]:
    deadline = time.monotonic() + within_s
    while True:
        rows = await _rows_for(page, listing_ids)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await page.wait_for_timeout(100)


async def _witness_sees(ws, listing_ids: set[str], count: int) -> None:
    seen = 0
    deadline = time.monotonic() + 8
    while seen < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if frame.get("op") == "event" and frame["data"].get("listingId") in listing_ids:
            seen += 1


async def test_dashboard_survives_forced_socket_drops_and_shows_every_event_once(people, api, live):
    seller = await people.create("seller", level=1)
    broker = await people.create("broker", level=1)
    page = await people.page(broker)
    await page.goto("/dashboard")
    await wait_ready(page)
    await page.locator("#conn[data-status='live']").wait_for()
    await subscribed(page, "listings")

    first = await make_listing(api, seller, model="Citation CJ3", manufacturer="Cessna", price="5200000.00")
    ours = {first["id"]}
    assert len(await _wait_rows(page, ours, 1)) == 1

    # A second listener proves the events were out before the page came back, so the page can only
    # have them from the `since` replay.
    async with connect(live.url.replace("http", "ws") + "/ws", open_timeout=5) as witness:
        await witness.send(json.dumps({"op": "subscribe", "channel": "listings"}))
        json.loads(await asyncio.wait_for(witness.recv(), 5))  # subscribed

        # Drop 1: the socket goes away and stays away while the seller keeps changing things.
        await page.evaluate("window.atp.realtime.goOffline()")
        await page.locator("#conn[data-status='offline']").wait_for()
        second = await make_listing(
            api, seller, model="Citation M2", manufacturer="Cessna", price="4100000.00"
        )
        ours.add(second["id"])
        for price in ("5150000.00", "5100000.00"):
            response = await api.patch(
                f"/api/listings/{first['id']}", json={"price": price}, headers=seller["headers"]
            )
            assert response.status_code == 200, response.text
        await _witness_sees(witness, ours, 5)
    await page.evaluate("window.atp.realtime.goOnline()")
    await page.locator("#conn[data-status='live']").wait_for()
    # two created, then one row per price change (its listing.updated twin is not shown again).
    await _wait_rows(page, ours, 4)

    # Drop 2: the socket is cut under the page (as a network failure would); it reconnects by itself.
    await page.evaluate("window.atp.realtime.ws.close()")
    response = await api.patch(
        f"/api/listings/{second['id']}", json={"price": "3990000.00"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    await page.locator("#conn[data-status='live']").wait_for()
    await _wait_rows(page, ours, 5)
    await page.wait_for_timeout(500)  # anything repeated by the replay would land within this
    rows = await _rows_for(page, ours)

    types = sorted(row["type"] for row in rows)
    assert types == sorted(["listing.created"] * 2 + ["listing.price_changed"] * 3), rows
    assert len({row["id"] for row in rows}) == len(rows), "an event was shown twice"
    seqs = [row["seq"] for row in reversed(rows)]  # the feed shows the newest first
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stats = await page.evaluate("window.atp.realtime.stats")
    assert stats["reconnects"] >= 2, stats
    assert stats["resets"] == 0, stats

    # A reservation conflict is a contended event: it lands in the conflicts panel with a visual cue.
    buyer = await people.create("buyer", level=2)
    reservation = {"buyerId": buyer["id"], "listingId": first["id"]}
    created = await api.post("/api/reservations", json=reservation, headers=broker["headers"])
    assert created.status_code == 201, created.text
    again = await api.post("/api/reservations", json=reservation, headers=broker["headers"])
    assert again.status_code == 409, again.text
    await page.locator("#conflicts li.contended[data-type='reservation.conflict']").wait_for()
    await page.locator(f"#reservations tr td a[href='/listings/{first['id']}']").wait_for()
    await screenshot(page, "dashboard")

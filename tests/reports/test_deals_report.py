"""A `deals` report built by the real slow-queue worker process: request → 202 → progress → ready →
download, and the file's rows are the deals and offers the deals API lists for the same user."""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal

import openpyxl
import pytest

from tests.processes import running_worker
from tests.reports.conftest import make_listings, unique_model
from tests.reports.test_reports import XLSX, user_events

EVIL = '=HYPERLINK("http://evil.example","Click")'


@pytest.fixture
def slow_worker(tmp_path):
    log = tmp_path / "worker-slow.log"
    with running_worker("slow", log, ATP_WORKER_DB_POOL="2", ATP_METRICS_PORT="") as proc:
        yield proc, log


async def _all(client, path: str, who: dict) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=params, headers=who["headers"])).json()
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def _rows(sheet) -> list[dict]:
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, row, strict=True)) for row in rows]


async def _trades(client, people) -> tuple[dict, dict, dict]:
    """A buyer with a deal, an offer in negotiation and a message starting with `=`; a second seller
    and buyer whose trade is none of the first buyer's business."""
    seller, buyer = await people.create("seller", level=1), await people.create("buyer", level=2)
    stranger_seller, stranger = await people.create("seller", level=1), await people.create("buyer", level=2)
    model = unique_model()
    won, talking, dropped = await make_listings(
        client, seller, model, ["900000.00", "650000.00", "400000.00"]
    )
    (elsewhere,) = await make_listings(client, stranger_seller, model, ["300000.00"])

    async def offer(listing, who, amount, **extra):
        body = {"amount": amount, "currency": "USD", **extra}
        response = await client.post(
            f"/api/listings/{listing['id']}/offers", json=body, headers=who["headers"]
        )
        assert response.status_code == 201, response.text
        return response.json()

    deal_offer = await offer(won, buyer, "850000.00", message=EVIL, conditions={"depositAmount": "50000.00"})
    accepted = await client.post(f"/api/offers/{deal_offer['id']}/accept", headers=seller["headers"])
    assert accepted.status_code == 200, accepted.text
    countered = await offer(talking, buyer, "600000.00", conditions={"prebuyInspection": True})
    response = await client.post(
        f"/api/offers/{countered['id']}/counter", json={"amount": "630000.00"}, headers=seller["headers"]
    )
    assert response.status_code == 200, response.text
    withdrawn = await offer(dropped, buyer, "350000.00")
    response = await client.post(f"/api/offers/{withdrawn['id']}/withdraw", headers=buyer["headers"])
    assert response.status_code == 200, response.text
    theirs = await offer(elsewhere, stranger, "290000.00")
    response = await client.post(f"/api/offers/{theirs['id']}/accept", headers=stranger_seller["headers"])
    assert response.status_code == 200, response.text
    return buyer, seller, {"won": won, "talking": talking, "dropped": dropped, "elsewhere": elsewhere}


async def test_a_deals_report_holds_what_the_deals_api_lists_for_its_owner(client, people, slow_worker):
    proc, log = slow_worker
    buyer, seller, listings = await _trades(client, people)

    response = await client.post("/api/reports", json={"kind": "deals"}, headers=buyer["headers"])
    assert response.status_code == 202, response.text
    report_id = response.json()["id"]
    deadline = time.monotonic() + 90
    while True:
        report = (await client.get(f"/api/reports/{report_id}", headers=buyer["headers"])).json()
        if report["status"] in ("ready", "failed"):
            break
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"no report from the slow worker:\n{log.read_text()[-3000:]}"
        await asyncio.sleep(0.2)
    assert report["status"] == "ready", report
    events = [e["type"] for e in await user_events(buyer["id"]) if e.get("reportId") == report_id]
    assert "report.progress" in events and events[-1] == "report.ready", events

    deals = await _all(client, "/api/deals", buyer)
    offers = await _all(client, "/api/offers", buyer)
    assert (len(deals), len(offers)) == (1, 3)
    assert report["rows"] == len(deals) + len(offers)

    download = await client.get(report["downloadUrl"])
    assert download.status_code == 200 and download.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["Deals", "Offers"]
    deal_rows, offer_rows = _rows(book["Deals"]), _rows(book["Offers"])
    assert len(deal_rows) == len(deals) and len(offer_rows) == len(offers)
    tails = {listing["tailNumber"] for listing in listings.values()}
    assert {r["Tail number"] for r in deal_rows + offer_rows} <= tails - {listings["elsewhere"]["tailNumber"]}

    (deal,), (row,) = deals, deal_rows
    rate = Decimal(deal["commission"]["rate"])
    assert rate == Decimal("0.03")  # the seller never subscribed: basic
    assert (row["Tail number"], row["Your side"], row["Status"]) == (
        listings["won"]["tailNumber"],
        "buyer",
        "under_contract",
    )
    assert (row["Price"], row["Currency"], row["Deposit"], row["Deposit status"]) == (
        850000.0,
        "USD",
        50000.0,
        "required",
    )
    assert row["Commission rate"] == float(rate) and row["Commission"] == 25500.0
    assert row["Commission booked"] == "no" and row["Ended"] is None
    assert abs((row["Agreed"] - _naive(deal["createdAt"])).total_seconds()) < 0.01
    sheet = book["Deals"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:Q{len(deals) + 1}"
    assert sheet["F2"].number_format == "General" and sheet["G2"].number_format == "#,##0.00"
    assert sheet["K2"].number_format == "0.0%" and sheet["N2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["Q2"].hyperlink.target.endswith(f"/deals/{deal['id']}")

    by_tail = {r["Tail number"]: r for r in offer_rows}
    for offer in offers:  # every offer, spot-checked against the API's fields
        listing = next(v for v in listings.values() if v["id"] == offer["listingId"])
        got = by_tail[listing["tailNumber"]]
        assert (got["Status"], got["Next move"], got["Amount"], got["Currency"]) == (
            offer["status"],
            offer["turn"],
            float(offer["amount"]),
            offer["currency"],
        )
        assert got["Your side"] == "buyer" and got["Commission rate"] == 0.03
        assert got["Commission"] == float(
            (Decimal(offer["amount"]) * Decimal("0.03")).quantize(Decimal("0.01"))
        )
        assert abs((got["Expires"] - _naive(offer["expiresAt"])).total_seconds()) < 0.01
    talking = by_tail[listings["talking"]["tailNumber"]]
    assert (talking["Amount"], talking["Deposit"], talking["Pre-buy inspection"]) == (
        630000.0,
        63000.0,
        "yes",
    )
    won = by_tail[listings["won"]["tailNumber"]]
    assert won["Status"] == "accepted" and won["Deposit"] == 50000.0
    # The buyer's message arrives as text, never a formula.
    cell = next(c for c in book["Offers"]["R"] if c.value == EVIL)
    assert cell.data_type == "s" and cell.quotePrefix

    # The seller's side of the same trades: their report says "seller"; nobody else sees the buyer's.
    response = await client.post("/api/reports", json={"kind": "deals"}, headers=seller["headers"])
    from tests.reports.test_reports import build

    assert await build(response.json()["id"]) in ("ready", "not claimed")
    other = await people.create("buyer", level=2)
    assert (await client.get(f"/api/reports/{report_id}", headers=other["headers"])).status_code == 404
    assert (
        await client.get(f"/api/reports/{report_id}/download", headers=other["headers"])
    ).status_code == 404


def _naive(stamp: str):
    from datetime import UTC, datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)

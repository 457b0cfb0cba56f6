"""Reports over HTTP with the build job run in-process: contract, ownership, limits, links, failures."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import openpyxl

from app.core import db
from tests.reports.conftest import assert_problem, make_listings, unique_model

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def build(report_id: str) -> str:
    from workers.reports import build_report

    return await build_report({}, report_id)


async def request(client, who: dict, kind: str = "market", **filters):
    return await client.post("/api/reports", json={"kind": kind, "filters": filters}, headers=who["headers"])


async def user_events(user_id: str, prefix: str = "report.") -> list[dict]:
    rows = await db.fetch(
        "SELECT event_type, payload FROM outbox_events WHERE channel = $1 AND event_type LIKE $2 ORDER BY position",
        f"user:{user_id}",
        prefix + "%",
    )
    return [{"type": r["event_type"], **msgspec.json.decode(r["payload"])} for r in rows]


async def test_a_market_report_is_accepted_built_and_downloaded(client, people):
    seller = await people.create("seller", level=1, plan="enterprise")
    broker = await people.create("broker", level=1)
    model = unique_model()
    made = await make_listings(client, seller, model, ["250000.00", "300000.00", "410000.00"])
    evil = await make_listings(
        client, seller, model, ["199000.00"], description='=HYPERLINK("http://evil.example","Click")'
    )

    response = await request(client, broker, model=model)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"] == f"/api/reports/{body['id']}"
    queued = (await client.get(response.headers["location"], headers=broker["headers"])).json()
    assert (queued["status"], queued["kind"], queued["downloadUrl"]) == ("queued", "market", None)

    assert await build(body["id"]) == "ready"
    assert await build(body["id"]) == "not claimed"  # a second run of the same job changes nothing
    report = (await client.get(f"/api/reports/{body['id']}", headers=broker["headers"])).json()
    assert (report["status"], report["progress"], report["rows"], report["error"]) == ("ready", 100, 4, None)
    expires = datetime.fromisoformat(report["expiresAt"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    events = await user_events(broker["id"])
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "report.ready" and "report.progress" in kinds
    assert events[-1]["downloadUrl"] == report["downloadUrl"] and events[-1]["rows"] == 4
    note = await db.fetchrow(
        "SELECT kind, link FROM notifications WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1",
        uuid.UUID(broker["id"]),
    )
    assert (note["kind"], note["link"]) == ("report.ready", report["downloadUrl"])

    # The signed link needs no session (it is what Telegram and email carry).
    download = await client.get(report["downloadUrl"])
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == XLSX
    assert download.headers["content-disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["Price statistics", "By period", "Listings", "Price history"]
    sheet = book["Listings"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert sorted(r["Tail number"] for r in rows) == sorted(m["tailNumber"] for m in made + evil)
    description = next(r for r in rows if r["Tail number"] == evil[0]["tailNumber"])["Description"]
    cell = next(row[12] for row in sheet.iter_rows(min_row=2) if row[3].value == evil[0]["tailNumber"])
    assert description == '=HYPERLINK("http://evil.example","Click")' and cell.data_type == "s"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:N5"
    stats = book["Price statistics"]
    assert [c.value for c in stats[2]][:6] == ["Reportair", model, "USD", 4, 199000.0, 275000.0]
    assert stats._charts  # the native chart
    # The owner's session works too.
    owner = await client.get(f"/api/reports/{body['id']}/download", headers=broker["headers"])
    assert owner.status_code == 200 and owner.content == download.content


async def test_only_the_owner_sees_a_report(client, people):
    owner, other = await people.create("broker", level=1), await people.create("broker", level=1)
    admin = await people.create("admin", level=3)
    report = (await request(client, owner, model=unique_model())).json()
    assert await build(report["id"]) == "ready"
    for who in (other, admin):
        assert_problem(
            await client.get(f"/api/reports/{report['id']}", headers=who["headers"]), 404, "report_not_found"
        )
        assert_problem(
            await client.get(f"/api/reports/{report['id']}/download", headers=who["headers"]),
            404,
            "report_not_found",
        )
    listed = (await client.get("/api/reports", headers=other["headers"])).json()
    assert report["id"] not in [r["id"] for r in listed["items"]]
    assert (await client.get(f"/api/reports/{report['id']}/download")).status_code == 404
    url = (await client.get(f"/api/reports/{report['id']}", headers=owner["headers"])).json()["downloadUrl"]
    tampered = url.replace("expires=", "expires=9")
    assert_problem(await client.get(tampered), 404, "report_not_found")
    assert_problem(
        await client.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB")), 404, "report_not_found"
    )


async def test_an_expired_link_is_gone(client, people):
    owner = await people.create("seller", level=1, plan="enterprise")
    report = (await request(client, owner, model=unique_model())).json()
    assert await build(report["id"]) == "ready"
    url = (await client.get(f"/api/reports/{report['id']}", headers=owner["headers"])).json()["downloadUrl"]
    assert (await client.get(url)).status_code == 200
    await db.fetch(
        "UPDATE reports SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(report["id"])
    )
    assert_problem(
        await client.get(f"/api/reports/{report['id']}/download", headers=owner["headers"]),
        410,
        "report_expired",
    )
    # A link whose own expiry has passed is gone too, whatever the row says.
    from app.reports import links

    old = links.download_url(uuid.UUID(report["id"]), datetime.now(UTC) - timedelta(seconds=5))
    assert_problem(await client.get(old), 410, "report_expired")

    # The hourly purge removes the expired file from storage; the report stays listed, its link 410.
    from app.core.storage import storage_for
    from app.settings import get_settings
    from workers.reports import purge_expired_reports

    store = storage_for(get_settings(), "reports")
    key = f"reports/{report['id']}.xlsx"
    assert await store.exists(key)
    assert await purge_expired_reports({}) >= 1
    assert not await store.exists(key)
    row = await db.fetchrow("SELECT purged_at FROM reports WHERE id = $1", uuid.UUID(report["id"]))
    assert row["purged_at"] is not None
    assert_problem(await client.get(url), 410, "report_expired")


async def test_at_most_three_reports_in_progress_per_user(client, people):
    owner = await people.create("broker", level=1)
    ids = []
    for _ in range(3):
        response = await request(client, owner, model=unique_model())
        assert response.status_code == 202
        ids.append(response.json()["id"])
    assert_problem(await request(client, owner, model=unique_model()), 429, "too_many_reports")
    other = await people.create("broker", level=1)
    assert (await request(client, other)).status_code == 202  # per user
    assert await build(ids[0]) == "ready"
    assert (await request(client, owner, model=unique_model())).status_code == 202


async def test_an_unknown_kind_is_refused(client, people):
    owner = await people.create("broker", level=1)
    assert (await request(client, owner, "quarterly")).status_code in (400, 422)


async def test_a_failed_build_says_why_and_can_be_retried(client, people, monkeypatch):
    from app.reports import build as builder

    owner = await people.create("seller", level=1, plan="enterprise")
    report = (await request(client, owner, model=unique_model())).json()
    real = builder.build_market

    async def broken(*args, **kwargs):
        raise RuntimeError("the search backend went away")

    monkeypatch.setattr(builder, "build_market", broken)
    assert await build(report["id"]) == "failed"
    failed = (await client.get(f"/api/reports/{report['id']}", headers=owner["headers"])).json()
    assert (
        failed["status"] == "failed" and "RuntimeError" in failed["error"] and failed["downloadUrl"] is None
    )
    assert "went away" not in failed["error"]  # internals stay in the log
    assert (await user_events(owner["id"]))[-1]["type"] == "report.failed"
    assert_problem(
        await client.get(f"/api/reports/{report['id']}/download", headers=owner["headers"]),
        409,
        "report_not_ready",
    )
    assert not await db.fetch(
        "SELECT 1 FROM reports WHERE id = $1 AND storage_key IS NOT NULL", uuid.UUID(report["id"])
    )

    monkeypatch.setattr(builder, "build_market", real)
    retried = await client.post(f"/api/reports/{report['id']}/retry", headers=owner["headers"])
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert await build(report["id"]) == "ready"
    assert_problem(
        await client.post(f"/api/reports/{report['id']}/retry", headers=owner["headers"]),
        409,
        "report_not_failed",
    )


async def test_a_build_taken_over_after_its_worker_went_silent(client, people):
    from workers import reports as worker

    owner = await people.create("seller", level=1, plan="enterprise")
    report = (await request(client, owner, model=unique_model())).json()
    rid = uuid.UUID(report["id"])
    # A worker claimed it and died: running, no heartbeat for longer than the stale limit.
    await db.fetch(
        "UPDATE reports SET status = 'running', attempts = 1, updated_at = now() - interval '5 minutes' WHERE id = $1",
        rid,
    )
    assert rid in await worker.service.stalled(queued_after_s=30, running_after_s=60)
    assert await build(report["id"]) == "ready"
    row = await db.fetchrow("SELECT status, attempts FROM reports WHERE id = $1", rid)
    assert (row["status"], row["attempts"]) == ("ready", 2)
    # Nothing else was stored under the reports area but whole files of ready reports.
    assert (
        await client.get(f"/api/reports/{report['id']}/download", headers=owner["headers"])
    ).status_code == 200


async def test_an_inventory_report_lists_the_owners_listings_of_every_status(client, people):
    seller = await people.create("seller", level=1, plan="enterprise")
    model = unique_model()
    made = await make_listings(client, seller, model, ["500000.00", "650000.00"])
    draft = await client.post(
        "/api/listings?draft=true",
        json={**(await _body(model)), "price": "700000.00"},
        headers=seller["headers"],
    )
    assert draft.status_code == 201, draft.text
    other_seller = await people.create("seller", level=1, plan="enterprise")
    await make_listings(client, other_seller, model, ["100000.00"])
    report = (await request(client, seller, "inventory", model=model)).json()
    assert await build(report["id"]) == "ready"
    got = (await client.get(f"/api/reports/{report['id']}", headers=seller["headers"])).json()
    assert got["rows"] == 3
    content = (await client.get(f"/api/reports/{report['id']}/download", headers=seller["headers"])).content
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Inventory"]
    tails = {row[3].value: row[4].value for row in sheet.iter_rows(min_row=2)}
    assert tails == {
        made[0]["tailNumber"]: "active",
        made[1]["tailNumber"]: "active",
        draft.json()["tailNumber"]: "draft",
    }


async def _body(model: str) -> dict:
    from tests.reservations.conftest import listing_body

    return {**listing_body(), "manufacturer": "Reportair", "model": model}


async def test_the_sweep_requeues_lost_builds_and_gives_up_after_three_attempts(client, people):
    from workers import reports as worker

    class Queue:
        def __init__(self) -> None:
            self.connection_pool = None

    owner = await people.create("seller", level=1, plan="enterprise")
    lost = (await request(client, owner, model=unique_model())).json()
    dead = (await request(client, owner, model=unique_model())).json()
    await db.fetch(
        "UPDATE reports SET updated_at = now() - interval '5 minutes' WHERE id = $1", uuid.UUID(lost["id"])
    )
    await db.fetch(
        "UPDATE reports SET status = 'running', attempts = 3, updated_at = now() - interval '5 minutes' WHERE id = $1",
        uuid.UUID(dead["id"]),
    )
    queued: list[tuple] = []

    async def enqueue(redis, report_id, attempt):
        queued.append((str(report_id), attempt))

    original = worker.jobs.enqueue_build
    worker.jobs.enqueue_build = enqueue
    try:
        await worker.sweep_reports({"redis": Queue()})
    finally:
        worker.jobs.enqueue_build = original
    assert (lost["id"], 0) in queued and dead["id"] not in [q[0] for q in queued]
    gave_up = (await client.get(f"/api/reports/{dead['id']}", headers=owner["headers"])).json()
    assert gave_up["status"] == "failed" and "3 attempts" in gave_up["error"]

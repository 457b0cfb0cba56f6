"""Risk flags: a listing priced far under its comparables is flagged by the worker's consumer run (and
announced on `admin`) and loses the flag when repriced; raises under contract; verification findings;
stale listings; who may read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.analytics.jobs import consume_in_worker
from tests.reservations.conftest import listing_body


async def _consume(ctx: dict | None = None) -> dict:
    from workers.analytics import consume_market_events

    return await consume_market_events(ctx if ctx is not None else {})


async def _create(client, who, model: str, price: str, year: int = 2010, hours: int = 2000) -> dict:
    body = {**listing_body(), "manufacturer": "Beechcraft", "model": model, "price": price,
            "yearManufactured": year, "hoursTotal": hours}  # fmt: skip
    response = await client.post("/api/listings", json=body, headers=who["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_dumped_price_is_flagged_within_a_consumer_run_and_cleared_when_repriced(
    client, people, admin
):
    from app.core import db

    seller = await people.create("seller", level=1, plan="enterprise")
    other = await people.create("seller", level=1, plan="enterprise")
    model = f"Bonanza {uuid.uuid4().hex[:5]}"
    for i, price in enumerate(["500000.00", "510000.00", "490000.00", "505000.00", "495000.00"]):
        await _create(client, other, model, price, year=2009 + i % 3)
    await consume_in_worker()
    dumped = await _create(client, seller, model, "150000.00")
    started = datetime.now(UTC)
    await consume_in_worker()  # the production job in an arq worker, as its 2 s cron runs it
    # "Within seconds" of the listing (a generous bound for a shared machine; bench/ measures speed).
    assert datetime.now(UTC) - started < timedelta(seconds=10)

    path = f"/api/listings/{dumped['id']}/risk"
    response = await client.get(path, headers=seller["headers"])
    assert response.status_code == 200, response.text
    [flag] = [f for f in response.json()["flags"] if f["code"] == "price_below_market"]
    assert flag["severity"] == "high" and flag["evidence"]["priceUsd"] == "150000.00"
    assert len(flag["evidence"]["comparables"]) >= 3
    assert (await client.get(path, headers=other["headers"])).status_code == 404
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=admin["headers"])).status_code == 200

    events = await db.fetch(
        "SELECT channel, payload FROM outbox_events WHERE event_type = 'risk.flagged' AND payload->>'listingId' = $1",
        dumped["id"],
    )
    assert {"admin", f"user:{seller['id']}"} <= {e["channel"] for e in events}
    listed = await client.get(
        "/api/admin/risk", params={"code": "price_below_market"}, headers=admin["headers"]
    )
    assert listed.status_code == 200, listed.text
    assert dumped["id"] in {item["listingId"] for item in listed.json()["items"]}
    assert (await client.get("/api/admin/risk", headers=seller["headers"])).status_code == 403

    repriced = await client.patch(
        f"/api/listings/{dumped['id']}", json={"price": "498000.00"}, headers=seller["headers"]
    )
    assert repriced.status_code == 200
    await consume_in_worker()
    flags = (await client.get(path, headers=seller["headers"])).json()["flags"]
    assert "price_below_market" not in {f["code"] for f in flags}
    # A replayed consumer run raises nothing twice.
    await _consume()
    count = await db.fetchrow(
        "SELECT count(*) AS n FROM risk_flags WHERE listing_id = $1 AND code = 'price_below_market'",
        uuid.UUID(dumped["id"]),
    )
    assert count["n"] == 1


async def test_a_price_raised_under_contract_is_flagged(client, people):
    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await _create(client, seller, f"Baron {uuid.uuid4().hex[:5]}", "800000.00")
    for change in ({"status": "under_contract"}, {"price": "850000.00"}):
        response = await client.patch(
            f"/api/listings/{listing['id']}", json=change, headers=seller["headers"]
        )
        assert response.status_code == 200, response.text
    await _consume()
    flags = (await client.get(f"/api/listings/{listing['id']}/risk", headers=seller["headers"])).json()[
        "flags"
    ]
    [flag] = [f for f in flags if f["code"] == "price_raised_under_contract"]
    assert flag["evidence"]["oldPrice"] == "800000.00" and flag["evidence"]["newPrice"] == "850000.00"


def test_verification_results_become_flags():
    from app.analytics.risk import below_market, verification_findings

    case = uuid.uuid4()
    checks = [
        {"case_id": case, "name": "registry", "status": "failed", "detail": "N1: year_mismatch",
         "data": {"issues": [{"type": "year_mismatch", "registered": 2001, "listing": 2005}]}},
        {"case_id": case, "name": "sanctions", "status": "failed", "detail": "1 possible match(es)",
         "data": {"sanctionsHit": True, "issues": [{"type": "sanctions_hit", "name": "X"}]}},
    ]  # fmt: skip
    found = {f.code: f for f in verification_findings(checks)}
    assert set(found) == {"registry_mismatch", "sanctions_hit"}
    assert found["registry_mismatch"].severity == "medium" and found["sanctions_hit"].severity == "high"
    dereg = [{"case_id": case, "name": "registry", "status": "failed", "detail": "N1 was deregistered",
              "data": {"issues": [{"type": "registry_deregistered", "cancelDate": "2020-01-01"}]}}]  # fmt: skip
    assert [f.code for f in verification_findings(dereg)] == ["deregistered"]
    assert verification_findings([{"name": "registry", "status": "passed", "data": {"issues": []}}]) == []
    from decimal import Decimal

    assert below_market(Decimal("70"), Decimal("100")) and not below_market(Decimal("70.01"), Decimal("100"))


async def test_registry_findings_on_a_listing_are_flagged_by_the_consumer(client, people):
    from app.core.db import UnitOfWork
    from app.events import VerificationStatusChanged
    from realtime import channels

    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await _create(client, seller, f"King Air {uuid.uuid4().hex[:5]}", "2500000.00")
    case_id = uuid.uuid4()
    async with UnitOfWork() as uow:
        await uow.conn.execute(
            """INSERT INTO verification_cases (id, subject_id, started_by, verification_type, listing_id, tail_number,
                   status, check_round) VALUES ($1, $2, $2, 'aircraft', $3, $4, 'manual_review', 1)""",
            case_id, uuid.UUID(seller["id"]), uuid.UUID(listing["id"]), listing["tailNumber"],
        )  # fmt: skip
        await uow.conn.execute(
            """INSERT INTO verification_checks (case_id, name, round, status, detail, data)
               VALUES ($1, 'registry', 1, 'failed', 'N1 was deregistered', $2::jsonb)""",
            case_id,
            '{"issues": [{"type": "registry_deregistered", "cancelDate": "2019-05-01"}], "severity": "reject"}',
        )
        uow.emit(
            VerificationStatusChanged(
                verification_id=case_id, previous_status="auto_check", status="manual_review"
            ),
            [channels.verification(case_id)],
        )
    await _consume()
    flags = (await client.get(f"/api/listings/{listing['id']}/risk", headers=seller["headers"])).json()[
        "flags"
    ]
    assert "deregistered" in {f["code"] for f in flags}


async def test_stale_listings_are_flagged_by_the_sweep_and_cleared_by_activity(client, people):
    from app.analytics import risk
    from app.analytics.model import ModelCache
    from app.core import db

    seller = await people.create("seller", level=1, plan="enterprise")
    listing = await _create(client, seller, f"Duke {uuid.uuid4().hex[:5]}", "300000.00")
    await _consume()
    await db.fetch(
        "UPDATE listings SET updated_at = now() - interval '200 days' WHERE id = $1", uuid.UUID(listing["id"])
    )
    result = await risk.sweep(cache=ModelCache(), days=90)
    assert result["raised"] >= 1
    path = f"/api/listings/{listing['id']}/risk"
    assert "stale_listing" in {
        f["code"] for f in (await client.get(path, headers=seller["headers"])).json()["flags"]
    }
    await client.patch(
        f"/api/listings/{listing['id']}", json={"price": "299000.00"}, headers=seller["headers"]
    )
    await _consume()
    assert "stale_listing" not in {
        f["code"] for f in (await client.get(path, headers=seller["headers"])).json()["flags"]
    }

"""Verification end to end through a real arq worker on real Redis, watched over the WebSocket."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from app.core import db
from tests.asgi_ws import AsgiWebSocket
from tests.verification.conftest import FINAL_STATUSES, named_user, open_case, pdf_bytes, wait_for_status

CLEAN_IBAN = "DE89370400440532013000"
FINAL = FINAL_STATUSES


async def _subscribe(app, client, user: dict, channel: str) -> AsgiWebSocket:
    ticket = (await client.post("/api/realtime/ticket", headers=user["headers"])).json()["ticket"]
    ws = AsgiWebSocket(app, "/ws", f"ticket={ticket}")
    assert (await ws.open())["type"] == "websocket.accept"
    frame = await ws.ask({"op": "subscribe", "channel": channel})
    assert frame["op"] == "subscribed", frame
    return ws


async def test_company_start_upload_submit_is_watched_live_and_approved(app, client, accounts, worker, relay):
    user = await named_user(accounts, "broker", "Clara", "Clean", "Clearwater Aero Partners", level=0)
    body = {
        "verificationType": "company",
        "bankAccount": {"holderName": "Clearwater Aero Partners", "iban": CLEAN_IBAN},
    }
    started = await client.post("/api/verification/start", json=body, headers=user["headers"])
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "submitted" and started.json()["estimatedTime"] >= 1
    case_id = started.json()["verificationId"]
    uploaded = await client.post(
        f"/api/verification/{case_id}/documents",
        files={"file": ("registration.pdf", pdf_bytes(), "application/pdf")},
        data={"kind": "company_registration"},
        headers=user["headers"],
    )
    assert uploaded.status_code == 201, uploaded.text
    assert set(uploaded.json()) == {"documentId", "status"}

    ws = await _subscribe(app, client, user, f"verification:{case_id}")
    submitted = await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    assert submitted.status_code == 202 and submitted.json() == {"status": "auto_check"}

    progress: dict[str, list[int]] = {}
    statuses = []
    while not statuses or statuses[-1] not in FINAL:
        frame = await ws.receive(wait_s=20)
        assert frame["op"] == "event", frame
        if frame["type"] == "verification.progress":
            assert frame["data"]["verificationId"] == case_id
            progress.setdefault(frame["data"]["check"], []).append(frame["data"]["percent"])
        elif frame["type"] == "verification.status_changed":
            statuses.append(frame["data"]["status"])
    await ws.close()
    assert set(progress) == {"documents", "sanctions", "bank"}
    assert max(p for values in progress.values() for p in values) == 100
    assert statuses == ["auto_check", "approved"]

    status = (await client.get(f"/api/verification/{case_id}/status", headers=user["headers"])).json()
    assert status["status"] == "approved" and status["progress"] == 100 and status["issues"] == []
    assert {(r["check"], r["status"]) for r in status["results"]} == {
        ("documents", "passed"),
        ("sanctions", "passed"),
        ("bank", "passed"),
    }
    # The new level is in the next access token (refresh reads it from the database).
    refreshed = await client.post("/api/auth/refresh", json={"refreshToken": user["refresh"]})
    assert refreshed.status_code == 200, refreshed.text
    claims = refreshed.json()["accessToken"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["verificationLevel"] == 2
    audit = await db.fetch(
        "SELECT data FROM audit_log WHERE subject_id = $1 AND action = 'verification.status_changed' ORDER BY id",
        case_id,
    )
    assert len(audit) == 2


@pytest.mark.parametrize(
    ("first", "last", "matched_on"),
    [
        ("Abu", "Abbas", "name"),  # listed as "ABBAS, Abu"
        ("Serguei", "Ivanoff", "alias"),  # an alias of "IVANOV, Sergei Petrovich"
        ("Jurgen", "Muller Schafer", "name"),  # listed with diacritics: "MÜLLER-SCHÄFER, Jürgen"
        ("Сергей", "Иванов", "name"),  # Cyrillic, transliterated
    ],
)
async def test_a_listed_name_goes_to_manual_review_with_the_entry_shown(
    client, accounts, worker, first, last, matched_on
):
    user = await named_user(accounts, "buyer", first, last)
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    assert (
        await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    ).status_code == 202
    status = await wait_for_status(client, user, case_id, FINAL)
    assert status["status"] == "manual_review"
    hits = [issue for issue in status["issues"] if issue["type"] == "sanctions_hit"]
    assert hits and hits[0]["entNum"] in (10001, 10002, 10007)
    if matched_on == "alias":
        assert hits[0]["matchedOn"] == "alias"
    level = await db.fetchrow("SELECT verification_level FROM users WHERE id = $1", uuid.UUID(user["id"]))
    assert level["verification_level"] == 0  # never auto-approved


async def test_reviewer_approves_a_flagged_case_and_comments_are_kept(client, accounts, worker):
    admin = await accounts.create("admin", 3)
    user = await named_user(accounts, "buyer", "Abu", "Abbas")
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    await wait_for_status(client, user, case_id, FINAL)

    queue = await client.get(
        "/api/admin/verifications?status=manual_review&limit=100", headers=admin["headers"]
    )
    assert queue.status_code == 200
    assert case_id in {item["id"] for item in queue.json()["items"]}
    assert (await client.get("/api/admin/verifications", headers=user["headers"])).status_code == 403
    not_admin = await client.post(
        f"/api/verification/{case_id}/review", json={"decision": "approve"}, headers=user["headers"]
    )
    assert not_admin.status_code == 403

    decision = {"decision": "approve", "comments": "Different person: DOB and nationality differ."}
    reviewed = await client.post(
        f"/api/verification/{case_id}/review", json=decision, headers=admin["headers"]
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "approved" and "updatedAt" in reviewed.json()
    again = await client.post(f"/api/verification/{case_id}/review", json=decision, headers=admin["headers"])
    assert again.status_code == 409 and again.json()["code"] == "invalid_verification_state"

    case = (await client.get(f"/api/verification/{case_id}", headers=user["headers"])).json()
    assert case["comments"][0]["body"] == decision["comments"]
    assert case["documents"][0]["kind"] == "id_document"
    level = await db.fetchrow("SELECT verification_level FROM users WHERE id = $1", uuid.UUID(user["id"]))
    assert level["verification_level"] == 1


async def test_aircraft_verified_against_the_registry_gets_the_badge(client, accounts, worker):
    seller = await named_user(accounts, "seller", "Terry", "Test", "Test Co", level=1)
    listing = {
        "manufacturer": "Piper",
        "model": "PA-28-181 Archer",
        "yearManufactured": 2011,
        "tailNumber": "N731PA",
        "hoursTotal": 2100,
        "price": "189000.00",
        "currency": "USD",
        "locationCountry": "US",
        "locationCity": "Vero Beach",
    }
    created = await client.post("/api/listings", json=listing, headers=seller["headers"])
    assert created.status_code == 201, created.text
    assert created.json()["verified"] is False
    body = {"verificationType": "aircraft", "tailNumber": "N731PA"}
    case_id = await open_case(client, seller, body, {"registration_certificate": pdf_bytes()})
    await client.post(f"/api/verification/{case_id}/submit", headers=seller["headers"])
    status = await wait_for_status(client, seller, case_id, FINAL)
    assert status["status"] == "approved", status
    after = await client.get(f"/api/listings/{created.json()['id']}")
    assert after.json()["verified"] is True


async def test_sanctioned_aircraft_and_deregistered_tail_are_never_approved(client, accounts, worker):
    seller = await named_user(accounts, "seller", "Sam", "Skyline", "Skyline Holdings Trust", level=1)
    for tail, model in (("N818SX", "172S Skyhawk"), ("N66DR", "PA-28-181")):
        listing = {
            "manufacturer": "Cessna",
            "model": model,
            "yearManufactured": 2012,
            "tailNumber": tail,
            "hoursTotal": 900,
            "price": "250000.00",
            "currency": "USD",
            "locationCountry": "US",
            "locationCity": "Miami",
        }
        assert (
            await client.post("/api/listings", json=listing, headers=seller["headers"])
        ).status_code == 201
    hit = await open_case(client, seller, {"verificationType": "aircraft", "tailNumber": "N818SX"},
                          {"registration_certificate": pdf_bytes()})  # fmt: skip
    gone = await open_case(client, seller, {"verificationType": "aircraft", "tailNumber": "N66DR"},
                           {"registration_certificate": pdf_bytes()})  # fmt: skip
    for case_id in (hit, gone):
        await client.post(f"/api/verification/{case_id}/submit", headers=seller["headers"])
    flagged = await wait_for_status(client, seller, hit, FINAL)
    assert flagged["status"] == "manual_review"
    assert {i["matchedOn"] for i in flagged["issues"] if i["type"] == "sanctions_hit"} >= {"tail_number"}
    rejected = await wait_for_status(client, seller, gone, FINAL)
    assert rejected["status"] == "rejected"
    assert [i["type"] for i in rejected["issues"] if i["check"] == "registry"] == ["registry_deregistered"]


async def test_only_the_subject_and_admins_can_read_a_case_and_its_documents(app, client, accounts, datasets):
    owner = await named_user(accounts, "buyer", "Olive", "Owner")
    other = await accounts.create("buyer", 2)
    admin = await accounts.create("admin", 3)
    content = pdf_bytes()
    case_id = await open_case(client, owner, {"verificationType": "individual"}, {"id_document": content})
    document_id = (await client.get(f"/api/verification/{case_id}", headers=owner["headers"])).json()[
        "documents"
    ][0]["id"]
    paths = [
        f"/api/verification/{case_id}",
        f"/api/verification/{case_id}/status",
        f"/api/verification/{case_id}/documents/{document_id}",
    ]
    for path in paths:
        assert (await client.get(path, headers=other["headers"])).status_code == 404
        assert (await client.get(path, headers=owner["headers"])).status_code == 200
        assert (await client.get(path, headers=admin["headers"])).status_code == 200
    download = await client.get(paths[2], headers=owner["headers"])
    assert download.content == content
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    upload = await client.post(
        f"/api/verification/{case_id}/documents",
        files={"file": ("x.pdf", pdf_bytes(), "application/pdf")},
        data={"kind": "other"},
        headers=other["headers"],
    )
    assert upload.status_code == 404
    mine = await client.get("/api/verification", headers=owner["headers"])
    assert [item["id"] for item in mine.json()["items"]] == [case_id]

    # The live channel follows the same rule: the subject may subscribe, another user may not.
    channel = f"verification:{case_id}"
    for user, allowed in ((owner, True), (other, False)):
        ticket = (await client.post("/api/realtime/ticket", headers=user["headers"])).json()["ticket"]
        ws = AsgiWebSocket(app, "/ws", f"ticket={ticket}")
        await ws.open()
        frame = await ws.ask({"op": "subscribe", "channel": channel})
        assert frame["op"] == ("subscribed" if allowed else "error"), frame
        await ws.close()


async def test_documents_are_judged_by_content(client, accounts):
    user = await named_user(accounts, "buyer", "Una", "Uploader")
    started = await client.post("/api/verification/start", json={"verificationType": "individual"},
                                headers=user["headers"])  # fmt: skip
    case_id = started.json()["verificationId"]
    url = f"/api/verification/{case_id}/documents"

    async def upload(name: str, content: bytes, kind: str = "id_document", media: str = "application/pdf"):
        return await client.post(
            url, files={"file": (name, content, media)}, data={"kind": kind}, headers=user["headers"]
        )

    executable = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\x00" * 200
        + b"This program cannot be run in DOS mode"
    )
    refused = await upload("passport.pdf", executable)
    assert refused.status_code == 415
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "unsupported_document_type"
    broken = await upload("scan.pdf", b"%PDF-1.7\n" + b"garbage" * 100)
    assert broken.status_code == 422 and broken.json()["code"] == "unreadable_document"
    truncated_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    assert (await upload("photo.png", truncated_png, media="image/png")).json()[
        "code"
    ] == "unreadable_document"
    assert (await upload("a.pdf", pdf_bytes(), kind="selfie")).status_code == 422
    too_big = await upload("huge.pdf", b"%PDF-1.7\n" + b"0" * (25 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.json()["code"] in (
        "document_too_large",
        "payload_too_large",
    )

    # Submitting without the required document moves the case to documents_required and says what is missing.
    missing = await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    assert missing.status_code == 422 and missing.json()["missing"] == ["id_document"]
    status = (await client.get(f"/api/verification/{case_id}/status", headers=user["headers"])).json()
    assert status["status"] == "documents_required"
    content = pdf_bytes()
    assert (await upload("id.pdf", content)).status_code == 201
    duplicate = await upload("id-again.pdf", content)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_document"
    second = await client.post("/api/verification/start", json={"verificationType": "individual"},
                               headers=user["headers"])  # fmt: skip
    assert second.status_code == 409 and second.json()["code"] == "verification_in_progress"


async def test_a_person_without_a_name_cannot_pass_screening(client, accounts, worker):
    user = await accounts.create("buyer", 0)  # no first or last name on the profile
    case_id = await open_case(client, user, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    await client.post(f"/api/verification/{case_id}/submit", headers=user["headers"])
    status = await wait_for_status(client, user, case_id, FINAL)
    assert status["status"] == "rejected"
    assert [i["type"] for i in status["issues"]] == ["profile_incomplete"]


async def test_the_buyers_broker_follows_the_clients_verification_live(app, client, accounts, worker, relay):
    seller = await accounts.create("seller", 1)
    broker = await accounts.create("broker", 1)
    rival = await accounts.create("broker", 1)
    buyer = await named_user(accounts, "buyer", "Petra", "Plain")
    listing = await client.post(
        "/api/listings",
        json={
            "manufacturer": "Piper",
            "model": "PA-28 Archer",
            "yearManufactured": 2008,
            "tailNumber": f"N{uuid.uuid4().int % 90000 + 10000}",
            "hoursTotal": 3100,
            "price": "219000.00",
            "currency": "USD",
            "locationCountry": "US",
            "locationCity": "Vero Beach",
        },
        headers=seller["headers"],
    )
    assert listing.status_code == 201, listing.text
    reserved = await client.post(
        "/api/reservations",
        json={"buyerId": buyer["id"], "listingId": listing.json()["id"]},
        headers=broker["headers"],
    )
    assert reserved.status_code == 201, reserved.text

    watching = await _subscribe(app, client, broker, f"user:{broker['id']}")
    other = await _subscribe(app, client, rival, f"user:{rival['id']}")
    case_id = await open_case(client, buyer, {"verificationType": "individual"}, {"id_document": pdf_bytes()})
    assert (
        await client.post(f"/api/verification/{case_id}/submit", headers=buyer["headers"])
    ).status_code == 202

    statuses = []
    while not statuses or statuses[-1] not in FINAL:
        frame = await watching.receive(wait_s=20)
        if frame.get("type") == "verification.status_changed":
            assert frame["data"]["verificationId"] == case_id
            statuses.append(frame["data"]["status"])
    assert statuses[0] == "auto_check" and statuses[-1] in FINAL
    # A broker who does not work for this buyer hears nothing of it.
    assert await other.ask({"op": "ping"}) == {"op": "pong"}
    await watching.close()
    await other.close()

"""Admin endpoints and the audit trail (API.md "Admin")."""

from __future__ import annotations

import asyncpg
import pytest

from app.core import db


@pytest.fixture(scope="module")
async def admin(accounts):
    return await accounts.create("admin", level=3)


async def test_non_admins_are_refused(client, accounts):
    broker = await accounts.create("broker", level=3)
    for method, url in (("GET", "/api/admin/users"), ("GET", "/api/admin/audit")):
        response = await client.request(method, url, headers=broker["headers"])
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    patch = await client.patch(
        f"/api/admin/users/{broker['id']}", json={"verificationLevel": 3}, headers=broker["headers"]
    )
    assert patch.status_code == 403


async def test_admin_raises_verification_level_and_it_is_audited(client, accounts, admin):
    seller = await accounts.create("seller", level=0)
    response = await client.patch(
        f"/api/admin/users/{seller['id']}", json={"verificationLevel": 2}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["verificationLevel"] == 2
    audit = await client.get(f"/api/admin/audit?subjectId={seller['id']}", headers=admin["headers"])
    entries = audit.json()["items"]
    assert [e["action"] for e in entries] == ["user.updated"]
    assert entries[0]["actorId"] == admin["id"]
    assert entries[0]["data"] == {"before": {"verification_level": 0}, "after": {"verification_level": 2}}
    # A fresh login carries the new level.
    login = await client.post(
        "/api/auth/login", json={"email": seller["email"], "password": seller["password"]}
    )
    assert login.json()["user"]["verificationLevel"] == 2


async def test_suspension_ends_sessions_and_blocks_login(client, accounts, admin):
    buyer = await accounts.create("buyer", level=1)
    assert (await client.get("/api/auth/profile", headers=buyer["headers"])).status_code == 200
    response = await client.patch(
        f"/api/admin/users/{buyer['id']}", json={"status": "suspended"}, headers=admin["headers"]
    )
    assert response.json()["status"] == "suspended"
    assert (await client.get("/api/auth/profile", headers=buyer["headers"])).status_code == 401
    assert (
        await client.post("/api/auth/refresh", json={"refreshToken": buyer["refresh"]})
    ).status_code == 401
    login = await client.post(
        "/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]}
    )
    assert login.status_code == 401


async def test_user_list_filters_and_pages(client, accounts, admin):
    for _ in range(3):
        await accounts.create("broker", level=1)
    first = await client.get("/api/admin/users?userType=broker&limit=2", headers=admin["headers"])
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    assert {u["userType"] for u in page["items"]} == {"broker"}
    second = await client.get(
        f"/api/admin/users?userType=broker&limit=2&cursor={page['nextCursor']}", headers=admin["headers"]
    )
    assert not {u["id"] for u in second.json()["items"]} & {u["id"] for u in page["items"]}


async def test_audit_log_is_append_only():
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.fetch("UPDATE audit_log SET action = 'tampered'")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.fetch("DELETE FROM audit_log")


async def test_admin_cannot_suspend_themselves(client, admin):
    response = await client.patch(
        f"/api/admin/users/{admin['id']}", json={"status": "suspended"}, headers=admin["headers"]
    )
    assert response.status_code == 409

"""Accounts & auth over real HTTP, PostgreSQL and Redis (API.md "Auth")."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pyotp
import pytest
from joserfc.jwk import OKPKey


def _email() -> str:
    return f"Pilot.{uuid.uuid4().hex[:10]}@Example.com"


async def _register(client, **overrides):
    body = {
        "email": _email(),
        "password": "glass-cockpit-42",
        "companyName": "Skyward LLC",
        "userType": "buyer",
    }
    body.update(overrides)
    return await client.post("/api/auth/register", json=body), body


def _assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status and body["title"] and body["detail"]


async def test_register_returns_user_and_working_tokens(client):
    response, body = await _register(client, firstName="Amelia", userType="seller")
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["user"]["email"] == body["email"].lower()
    assert data["user"]["userType"] == "seller"
    assert data["user"]["verificationLevel"] == 0
    assert data["user"]["status"] == "active"
    profile = await client.get(
        "/api/auth/profile", headers={"Authorization": f"Bearer {data['accessToken']}"}
    )
    assert profile.status_code == 200
    assert profile.json()["roles"] == ["seller"]
    assert "listings:create" in profile.json()["permissions"]


async def test_access_token_carries_contract_claims(client):
    response, _ = await _register(client)
    token = response.json()["accessToken"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert header["alg"] == "Ed25519"
    assert {"sub", "email", "roles", "permissions", "verificationLevel", "iat", "exp", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] <= 900


async def test_duplicate_email_is_409_regardless_of_case(client):
    response, body = await _register(client)
    assert response.status_code == 201
    again, _ = await _register(client, email=body["email"].upper())
    _assert_problem(again, 409, "email_taken")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"userType": "admin"}, "userType"),
        ({"isAdmin": True}, "isAdmin"),
        ({"verificationLevel": 3}, "verificationLevel"),
    ],
)
async def test_register_rejects_bad_input_with_problem_json(client, overrides, field):
    response, _ = await _register(client, **overrides)
    _assert_problem(response, 422, "validation_failed")
    assert field in response.text


async def test_malformed_json_is_a_client_error(client):
    response = await client.post(
        "/api/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_login_does_not_reveal_which_part_was_wrong(client):
    _response, body = await _register(client)
    wrong_password = await client.post(
        "/api/auth/login", json={"email": body["email"], "password": "nope-nope-1"}
    )
    unknown_email = await client.post("/api/auth/login", json={"email": _email(), "password": "nope-nope-1"})
    _assert_problem(wrong_password, 401, "invalid_credentials")
    _assert_problem(unknown_email, 401, "invalid_credentials")
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    response, _ = await _register(client)
    first_refresh = response.json()["refreshToken"]
    rotated = await client.post("/api/auth/refresh", json={"refreshToken": first_refresh})
    assert rotated.status_code == 200
    second_refresh = rotated.json()["refreshToken"]
    assert second_refresh != first_refresh
    reused = await client.post("/api/auth/refresh", json={"refreshToken": first_refresh})
    _assert_problem(reused, 401, "refresh_token_reused")
    # The thief's reuse killed the legitimate holder's newer token as well.
    after = await client.post("/api/auth/refresh", json={"refreshToken": second_refresh})
    assert after.status_code == 401


async def test_refresh_token_is_not_an_access_token(client):
    response, _ = await _register(client)
    refresh = response.json()["refreshToken"]
    profile = await client.get("/api/auth/profile", headers={"Authorization": f"Bearer {refresh}"})
    assert profile.status_code == 401


async def test_logout_revokes_access_token_and_refresh_family(client):
    response, _ = await _register(client)
    tokens = response.json()
    headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    _assert_problem(await client.get("/api/auth/profile", headers=headers), 401, "token_revoked")
    assert (
        await client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    ).status_code == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_forged_tokens_are_rejected(client, app):
    response, _ = await _register(client)
    token = response.json()["accessToken"]
    header_b64, claims_b64, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=="))
    claims["roles"] = ["admin"]
    alg_none = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
    tampered = f"{header_b64}.{_b64(claims)}.{token.split('.')[2]}"
    from app.auth.tokens import TokenSigner

    other = TokenSigner(
        OKPKey.generate_key("Ed25519", private=True), issuer="atp", audience="atp-api", ttl_s=900
    )
    wrong_key, _ = other.issue(
        user_id=uuid.uuid4(),
        email="x@y.z",
        roles=["admin"],
        permissions=["admin:users"],
        verification_level=3,
        family_id=None,
    )
    settings = app.state.settings
    expired_signer = TokenSigner(
        app.state.signer._key, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=-60
    )
    expired, _ = expired_signer.issue(
        user_id=uuid.uuid4(),
        email="x@y.z",
        roles=["buyer"],
        permissions=[],
        verification_level=0,
        family_id=None,
    )
    for bad in (alg_none, tampered, wrong_key, expired, "garbage", "a.b.c"):
        result = await client.get("/api/auth/profile", headers={"Authorization": f"Bearer {bad}"})
        _assert_problem(result, 401, "invalid_token")


async def test_totp_enrolment_login_and_single_use_codes(client):
    response, body = await _register(client)
    headers = {"Authorization": f"Bearer {response.json()['accessToken']}"}
    setup = await client.post("/api/auth/totp/enable", headers=headers)
    assert setup.status_code == 200
    totp = pyotp.TOTP(setup.json()["secret"])
    assert setup.json()["otpauthUri"].startswith("otpauth://totp/")
    # Not required until confirmed.
    creds = {"email": body["email"], "password": body["password"]}
    assert (await client.post("/api/auth/login", json=creds)).status_code == 200
    assert (
        await client.post("/api/auth/totp/confirm", headers=headers, json={"code": "000000"})
    ).status_code == 401
    assert (
        await client.post("/api/auth/totp/confirm", headers=headers, json={"code": totp.now()})
    ).status_code == 204
    _assert_problem(await client.post("/api/auth/login", json=creds), 401, "totp_required")
    # Each code works once: the confirm above already spent the current one.
    _assert_problem(
        await client.post("/api/auth/login", json=creds | {"totp": totp.now()}), 401, "invalid_totp"
    )
    next_code = totp.at(time.time() + 30)
    assert (await client.post("/api/auth/login", json=creds | {"totp": next_code})).status_code == 200
    assert (
        await client.post("/api/auth/totp/disable", headers=headers, json={"code": "123456"})
    ).status_code == 401


async def test_totp_locks_after_five_wrong_codes(client):
    response, body = await _register(client)
    headers = {"Authorization": f"Bearer {response.json()['accessToken']}"}
    totp = pyotp.TOTP((await client.post("/api/auth/totp/enable", headers=headers)).json()["secret"])
    assert (
        await client.post("/api/auth/totp/confirm", headers=headers, json={"code": totp.now()})
    ).status_code == 204
    creds = {"email": body["email"], "password": body["password"]}
    wrong = f"{(int(totp.at(time.time() + 300)) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await client.post("/api/auth/login", json=creds | {"totp": wrong})).status_code == 401
    locked = await client.post("/api/auth/login", json=creds | {"totp": totp.at(time.time() + 30)})
    _assert_problem(locked, 429, "totp_locked")


async def test_api_keys_authenticate_bots_and_can_be_revoked(client):
    response, _ = await _register(client, userType="broker")
    headers = {"Authorization": f"Bearer {response.json()['accessToken']}"}
    created = await client.post("/api/me/api-keys", headers=headers, json={"name": "inventory bot"})
    assert created.status_code == 201
    key = created.json()["key"]
    listed = await client.get("/api/me/api-keys", headers=headers)
    assert [k["name"] for k in listed.json()] == ["inventory bot"]
    assert key not in listed.text
    as_bot = await client.get("/api/auth/profile", headers={"X-API-Key": key})
    assert as_bot.status_code == 200
    assert as_bot.json()["roles"] == ["broker"]
    revoked = await client.delete(f"/api/me/api-keys/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 204
    _assert_problem(await client.get("/api/auth/profile", headers={"X-API-Key": key}), 401, "invalid_api_key")


async def test_protected_endpoints_need_credentials(client):
    _assert_problem(await client.get("/api/auth/profile"), 401, "not_authenticated")
    _assert_problem(
        await client.get("/api/auth/profile", headers={"Authorization": "Basic abc"}), 401, "invalid_token"
    )

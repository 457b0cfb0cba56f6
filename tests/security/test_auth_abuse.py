"""Account abuse (issue 19): login throttling, API key scopes, family-wide revocation, sessions, push ownership.

Each test here failed on the code before the fix. Clients with their own addresses are ASGI clients whose
`client` is that address: the limiter keys on `request.client`, never on a header the caller writes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.listings.test_listings import listing_body

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@asynccontextmanager
async def client_at(app, ip: str, user_agent: str = "atp-tests"):
    """An HTTP client whose requests come from `ip` (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": user_agent}
    ) as c:
        yield c


def _ip() -> str:
    """A fresh documentation-range address per test, so tests never share a bucket."""
    n = uuid.uuid4().int
    return f"198.{18 + n % 2}.{(n >> 8) % 256}.{(n >> 16) % 254 + 1}"


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


async def _login(c, user, **extra) -> dict:
    response = await c.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"], **extra}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return {**body, "headers": {"Authorization": f"Bearer {body['accessToken']}"}}


# --- login throttling ---------------------------------------------------------------------------------


async def test_sixty_wrong_passwords_get_429_with_retry_after_and_the_owner_elsewhere_still_logs_in(
    app, client, accounts
):
    owner = await accounts.create("buyer")
    wrong = {"email": owner["email"], "password": "not-the-password-1"}
    async with client_at(app, _ip()) as attacker:
        answers = [await attacker.post("/api/auth/login", json=wrong) for _ in range(60)]
        limited = [a for a in answers if a.status_code == 429]
        assert sum(a.status_code == 401 for a in answers) <= 10
        assert len(limited) >= 50
        for answer in limited:
            _problem(answer, 429, "rate_limited")
            assert int(answer.headers["Retry-After"]) >= 1
        # Even the right password is refused from the attacker's address for now...
        right = {"email": owner["email"], "password": owner["password"]}
        _problem(await attacker.post("/api/auth/login", json=right), 429, "rate_limited")
    # ...but the owner, from an address of their own (never seen before), logs in.
    async with client_at(app, _ip()) as owner_device:
        assert (await owner_device.post("/api/auth/login", json=right)).status_code == 200


async def test_throttle_delay_grows_and_a_forged_forwarded_for_changes_nothing(app, client, accounts):
    owner = await accounts.create("buyer")
    wrong = {"email": owner["email"], "password": "not-the-password-2"}
    async with client_at(app, _ip()) as attacker:
        for _ in range(5):
            assert (await attacker.post("/api/auth/login", json=wrong)).status_code == 401
        first = await attacker.post("/api/auth/login", json=wrong)
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        await asyncio.sleep(1.2)
        assert (await attacker.post("/api/auth/login", json=wrong)).status_code == 401
        spoofed = await attacker.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": _ip()})
        _problem(spoofed, 429, "rate_limited")
        assert spoofed.headers["Retry-After"] == "2"


async def test_concurrent_guesses_cannot_pass_the_limit(app, client, accounts):
    owner = await accounts.create("buyer")
    wrong = {"email": owner["email"], "password": "not-the-password-3"}
    async with client_at(app, _ip()) as attacker:
        answers = await asyncio.gather(*(attacker.post("/api/auth/login", json=wrong) for _ in range(30)))
    assert sum(a.status_code == 401 for a in answers) <= 5
    assert sum(a.status_code == 429 for a in answers) >= 25


async def test_unknown_email_is_throttled_like_a_known_one(app, client):
    async with client_at(app, _ip()) as attacker:
        ghost = {"email": f"ghost-{uuid.uuid4().hex[:8]}@test.atp", "password": "whatever-it-is"}
        codes = [(await attacker.post("/api/auth/login", json=ghost)).status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5] == 429


# --- API key scopes and interactive-only account management ------------------------------------------


async def _key(client, user, **body) -> str:
    created = await client.post("/api/me/api-keys", headers=user["headers"], json={"name": "bot", **body})
    assert created.status_code == 201, created.text
    return created.json()


async def test_an_api_key_cannot_enrol_totp_mint_keys_change_password_or_see_sessions(client, accounts):
    user = await accounts.create("seller", level=1)
    key = (await _key(client, user))["key"]
    bot = {"X-API-Key": key}
    for method, path, body in [
        ("POST", "/api/auth/totp/enable", None),
        ("POST", "/api/auth/totp/confirm", {"code": "123456"}),
        ("POST", "/api/auth/totp/disable", {"code": "123456"}),
        ("POST", "/api/me/api-keys", {"name": "child"}),
        ("GET", "/api/me/api-keys", None),
        ("POST", "/api/me/password", {"currentPassword": user["password"], "newPassword": "a-new-pass-99"}),
        ("GET", "/api/me/sessions", None),
        ("DELETE", "/api/me/sessions", None),
    ]:
        response = await client.request(method, path, headers=bot, json=body)
        _problem(response, 403, "interactive_session_required")
    profile = await client.get("/api/auth/profile", headers=bot)
    assert profile.status_code == 200 and profile.json()["user"]["totpEnabled"] is False
    assert (
        await client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
    ).status_code == 200


async def test_a_key_does_only_what_its_scopes_allow(client, accounts):
    seller = await accounts.create("seller", level=1)
    created = await _key(client, seller)
    reader = {"X-API-Key": created["key"]}
    denied = await client.post("/api/listings", json=listing_body(), headers=reader)
    body = _problem(denied, 403, "insufficient_scope")
    assert body["requiredScope"] == "listings"
    assert created["scopes"] == ["read"]  # the default
    assert (await client.get("/api/auth/profile", headers=reader)).status_code == 200
    assert (await client.get("/api/listings", headers=reader)).status_code == 200
    webhooks = await client.post(
        "/api/webhooks/endpoints",
        json={"url": "https://example.com/hook", "eventTypes": ["listing.created"]},
        headers=reader,
    )
    _problem(webhooks, 403, "insufficient_scope")

    lister = {"X-API-Key": (await _key(client, seller, scopes=["listings"]))["key"]}
    made = await client.post("/api/listings", json=listing_body(), headers=lister)
    assert made.status_code == 201, made.text
    # Scopes never add to what the owner may do: a buyer's `listings` key still cannot list.
    buyer = await accounts.create("buyer", level=1)
    buyer_key = {"X-API-Key": (await _key(client, buyer, scopes=["listings"]))["key"]}
    _problem(await client.post("/api/listings", json=listing_body(), headers=buyer_key), 403, "forbidden")
    listed = await client.get("/api/me/api-keys", headers=seller["headers"])
    assert sorted(k["scopes"] for k in listed.json()) == [["listings"], ["read"]]


async def test_scopes_are_chosen_at_creation_and_an_unknown_or_empty_list_is_422(client, accounts):
    user = await accounts.create("buyer")
    chosen = await _key(client, user, scopes=["webhooks", "read", "webhooks"])
    assert chosen["scopes"] == ["read", "webhooks"]
    for scopes in (["admin"], []):
        response = await client.post(
            "/api/me/api-keys", headers=user["headers"], json={"name": "x", "scopes": scopes}
        )
        _problem(response, 422, "validation_failed")


async def _age_login(user_id: str, minutes: int) -> None:
    from app.core import db

    await db.fetch(
        'UPDATE auth_sessions SET auth_time = now() - make_interval(mins => $2) WHERE "user" = $1',
        uuid.UUID(user_id),
        minutes,
    )


async def test_security_changes_need_a_recent_password(client, accounts):
    user = await accounts.create("buyer")
    await _age_login(user["id"], 30)
    refreshed = await client.post("/api/auth/refresh", json={"refreshToken": user["refresh"]})
    stale = {"Authorization": f"Bearer {refreshed.json()['accessToken']}"}
    _problem(await client.post("/api/auth/totp/enable", headers=stale), 403, "recent_auth_required")
    _problem(
        await client.post("/api/me/api-keys", headers=stale, json={"name": "k"}), 403, "recent_auth_required"
    )
    wrong = await client.post("/api/auth/totp/enable", headers=stale, json={"currentPassword": "nope-nope-1"})
    _problem(wrong, 403, "invalid_current_password")
    ok = await client.post("/api/auth/totp/enable", headers=stale, json={"currentPassword": user["password"]})
    assert ok.status_code == 200, ok.text
    key = await client.post(
        "/api/me/api-keys", headers=stale, json={"name": "k", "currentPassword": user["password"]}
    )
    assert key.status_code == 201, key.text


# --- refresh reuse and sessions ------------------------------------------------------------------------


async def test_refresh_reuse_kills_the_familys_live_access_tokens(client, accounts):
    user = await accounts.create("buyer")
    a1, r1 = user["access"], user["refresh"]
    rotated = await client.post("/api/auth/refresh", json={"refreshToken": r1})
    assert rotated.status_code == 200
    a2, r2 = rotated.json()["accessToken"], rotated.json()["refreshToken"]
    for token in (a1, a2):
        assert (
            await client.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
    reused = await client.post("/api/auth/refresh", json={"refreshToken": r1})
    _problem(reused, 401, "refresh_token_reused")
    for token in (a1, a2):
        answer = await client.get("/api/auth/profile", headers={"Authorization": f"Bearer {token}"})
        _problem(answer, 401, "token_revoked")
    _problem(await client.post("/api/auth/refresh", json={"refreshToken": r2}), 401, "refresh_token_reused")


async def test_sessions_are_listed_and_one_or_all_others_can_be_ended(app, client, accounts):
    from app.realtime.service import dead_sessions
    from realtime.tickets import redeem_ticket

    user = await accounts.create("buyer")
    async with client_at(app, "192.0.2.44", FIREFOX) as laptop, client_at(app, "192.0.2.45", IPHONE) as phone:
        mine = await _login(laptop, user)
        other = await _login(phone, user)
        third = await _login(phone, user)
        listed = await laptop.get("/api/me/sessions", headers=mine["headers"])
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        current = [s for s in items if s["current"]]
        assert len(current) == 1 and current[0]["device"] == "Firefox on Linux"
        assert current[0]["ip"] == "192.0.2.44" and current[0]["lastSeenAt"] and current[0]["createdAt"]
        phones = [s for s in items if s["ip"] == "192.0.2.45"]
        assert len(phones) == 2 and {s["device"] for s in phones} == {"Safari on iPhone"}
        assert len(items) == 4  # + the fixture's own log in

        # A socket opened from the phone's first session closes once the session ends.
        other_family = _family_of(other)
        ticket = await phone.post("/api/realtime/ticket", headers=other["headers"])
        socket = await redeem_ticket(app.state.realtime.redis, ticket.json()["ticket"])
        assert socket is not None and socket.family == other_family
        assert await dead_sessions(app.state.redis, [socket]) == set()

        stranger = await accounts.create("buyer")
        _problem(
            await client.delete(f"/api/me/sessions/{other_family}", headers=stranger["headers"]),
            404,
            "session_not_found",
        )
        assert (
            await laptop.delete(f"/api/me/sessions/{other_family}", headers=mine["headers"])
        ).status_code == 204
        assert await dead_sessions(app.state.redis, [socket]) == {0}
        ended = other
        _problem(await phone.get("/api/auth/profile", headers=ended["headers"]), 401, "token_revoked")
        _problem(
            await phone.post("/api/auth/refresh", json={"refreshToken": ended["refreshToken"]}),
            401,
            "refresh_token_reused",
        )
        _problem(
            await laptop.delete(f"/api/me/sessions/{other_family}", headers=mine["headers"]),
            404,
            "session_not_found",
        )

        assert (await laptop.delete("/api/me/sessions", headers=mine["headers"])).status_code == 204
        survivors = (await laptop.get("/api/me/sessions", headers=mine["headers"])).json()["items"]
        assert [s["current"] for s in survivors] == [True]
        for gone in (other, third):
            assert (await phone.get("/api/auth/profile", headers=gone["headers"])).status_code == 401
        assert (await client.get("/api/auth/profile", headers=user["headers"])).status_code == 401
        assert (await laptop.get("/api/auth/profile", headers=mine["headers"])).status_code == 200


def _family_of(login: dict) -> str:
    import base64
    import json

    payload = login["accessToken"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=="))["fam"]


async def test_a_password_change_ends_every_other_session_and_its_sockets(app, client, accounts):
    from app.realtime.service import dead_sessions
    from realtime.connection import Session

    user = await accounts.create("buyer", password="first-pass-123")
    async with client_at(app, "192.0.2.50", FIREFOX) as laptop, client_at(app, "192.0.2.51", IPHONE) as phone:
        mine = await _login(laptop, user)
        other = await _login(phone, user)
        socket = Session(user_id=uuid.UUID(user["id"]), issued_at=time.time(), family=_family_of(other))
        my_socket = Session(user_id=uuid.UUID(user["id"]), issued_at=time.time(), family=_family_of(mine))
        bad = await laptop.post(
            "/api/me/password",
            headers=mine["headers"],
            json={"currentPassword": "wrong-pass-1", "newPassword": "second-pass-456"},
        )
        _problem(bad, 403, "invalid_current_password")
        weak = await laptop.post(
            "/api/me/password",
            headers=mine["headers"],
            json={"currentPassword": "first-pass-123", "newPassword": "password123"},
        )
        _problem(weak, 422, "validation_failed")
        changed = await laptop.post(
            "/api/me/password",
            headers=mine["headers"],
            json={"currentPassword": "first-pass-123", "newPassword": "second-pass-456"},
        )
        assert changed.status_code == 204, changed.text
        _problem(await phone.get("/api/auth/profile", headers=other["headers"]), 401, "token_revoked")
        assert (
            await phone.post("/api/auth/refresh", json={"refreshToken": other["refreshToken"]})
        ).status_code == 401
        assert await dead_sessions(app.state.redis, [socket, my_socket]) == {0}
        assert (await laptop.get("/api/auth/profile", headers=mine["headers"])).status_code == 200
        old = await phone.post("/api/auth/login", json={"email": user["email"], "password": "first-pass-123"})
        _problem(old, 401, "invalid_credentials")
        assert (
            await phone.post("/api/auth/login", json={"email": user["email"], "password": "second-pass-456"})
        ).status_code == 200


# --- push subscriptions --------------------------------------------------------------------------------


async def test_a_push_endpoint_stays_with_the_account_that_registered_it(client, accounts, monkeypatch):
    from app.core import db, outbound

    async def resolve(url, allow=()):
        return None

    monkeypatch.setattr(outbound, "resolve", resolve)
    owner, thief = await accounts.create("buyer"), await accounts.create("buyer")
    endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
    body = {"endpoint": endpoint, "keys": {"p256dh": "B" * 40, "auth": "a" * 16}}
    assert (
        await client.post("/api/push/subscriptions", json=body, headers=owner["headers"])
    ).status_code == 201
    stolen = {"endpoint": endpoint, "keys": {"p256dh": "C" * 40, "auth": "c" * 16}}
    _problem(
        await client.post("/api/push/subscriptions", json=stolen, headers=thief["headers"]),
        409,
        "push_endpoint_taken",
    )
    [row] = await db.fetch("SELECT user_id, p256dh FROM push_subscriptions WHERE endpoint = $1", endpoint)
    assert str(row["user_id"]) == owner["id"] and row["p256dh"] == "B" * 40
    # The owner may re-register (new keys after the browser rotated them).
    assert (
        await client.post("/api/push/subscriptions", json=stolen, headers=owner["headers"])
    ).status_code == 201
    # The thief's unsubscribe cannot remove it either.
    await client.delete("/api/push/subscriptions", params={"endpoint": endpoint}, headers=thief["headers"])
    assert await db.fetch("SELECT 1 FROM push_subscriptions WHERE endpoint = $1", endpoint)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (FIREFOX, "Firefox on Linux"),
        (IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge on Windows",
        ),
        ("python-httpx/0.27", "Python client"),
        ("", "Unknown device"),
    ],
)
def test_device_names(user_agent, device):
    from app.accounts.sessions import describe_device

    assert describe_device(user_agent) == device


async def test_login_fails_closed_with_503_when_the_limiter_cannot_reach_redis():
    from redis.exceptions import ConnectionError as RedisConnectionError

    from app.auth import throttle

    class Down:
        def register_script(self, script):
            async def run(**_):
                raise RedisConnectionError("connection refused")

            return run

    with pytest.raises(throttle.ThrottleUnavailable) as caught:
        await throttle.login_attempt(Down(), "someone@test.atp", "192.0.2.9")  # type: ignore[arg-type]
    assert caught.value.status == 503 and caught.value.retry_after == 5


async def test_a_full_address_still_lets_in_an_owner_who_logged_in_from_there_before(app, client, accounts):
    from app.auth import throttle

    shared_nat = _ip()
    regular, newcomer = await accounts.create("buyer"), await accounts.create("buyer")
    async with client_at(app, shared_nat) as office:
        await _login(office, regular)
        # Someone else behind the same address used up its budget (credential stuffing).
        await app.state.redis.hset(
            f"atp:auth:login:ip:{shared_nat}", mapping={"n": throttle.IP_LIMIT, "last": 0}
        )
        await app.state.redis.expire(f"atp:auth:login:ip:{shared_nat}", 60)
        blocked = await office.post(
            "/api/auth/login", json={"email": newcomer["email"], "password": newcomer["password"]}
        )
        _problem(blocked, 429, "rate_limited")
        await _login(office, regular)

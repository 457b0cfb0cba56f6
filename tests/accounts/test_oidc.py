"""Sign-in with an identity provider: the full redirect dance against a real local OpenID provider.

The provider (tests/oidc_provider.py) is authlib's authorization server on 127.0.0.1 over real HTTP; our app
runs in process. Every refusal is a 400 `oauth_failed` with nothing linked and no account made (checked in
the database).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, RSAKey

from app.accounts.identities import safe_redirect
from app.auth.oidc import check_id_token
from app.auth.oidc_config import OidcProvider, load_oidc_providers
from app.core.db import UnitOfWork
from tests.oidc_provider import KID, TestProvider

NAME = "test"


@pytest.fixture(scope="module")
def provider():
    served = TestProvider().start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def configured(app, client, provider):
    """The session's app, told about the test provider for this module."""
    before = app.state.settings
    registered = provider.register_client(f"{before.public_url}/api/auth/oauth/{NAME}/callback")
    app.state.settings = msgspec.structs.replace(
        before,
        oidc_providers=(
            OidcProvider(
                name=NAME,
                display_name="Test ID",
                issuer=provider.issuer,
                client_id=registered.client_id,
                client_secret=registered.client_secret,
            ),
        ),
    )
    yield app
    app.state.settings = before


@pytest.fixture
async def browser(configured):
    """A fresh browser: its own cookie jar, talking to the in-process app."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=configured), base_url="http://testserver"
    ) as session:
        yield session


async def _to_provider(browser, redirect: str = "/dashboard") -> str:
    """authorize → the provider's authorization URL."""
    response = await browser.get(f"/api/auth/oauth/{NAME}/authorize", params={"redirect": redirect})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _provider_answer(url: str) -> str:
    """The provider signs `provider.person` in and sends the browser back: our callback path + query."""
    async with httpx.AsyncClient() as outside:
        response = await outside.get(url)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    return f"{back.path}?{back.query}"


async def _sign_in(browser, redirect: str = "/dashboard") -> httpx.Response:
    """The whole dance; the exchange's response."""
    callback = await _provider_answer(await _to_provider(browser, redirect))
    back = await browser.get(callback)
    assert back.status_code == 302, back.text
    code = urlsplit(back.headers["location"]).fragment.removeprefix("oauth=")
    return await browser.post("/api/auth/oauth/exchange", json={"code": code})


def _assert_oauth_failed(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "oauth_failed" and body["status"] == 400 and body["detail"]


async def _linked(subject: str) -> int:
    async with UnitOfWork() as uow:
        return await uow.conn.fetchval("SELECT count(*) FROM user_identities WHERE subject = $1", subject)


async def _users_with(email: str) -> int:
    async with UnitOfWork() as uow:
        return await uow.conn.fetchval("SELECT count(*) FROM users WHERE lower(email) = lower($1)", email)


def _email() -> str:
    return f"pilot-{uuid.uuid4().hex[:10]}@idp.test"


async def test_providers_are_listed_from_configuration(browser):
    response = await browser.get("/api/auth/oauth/providers")
    assert response.status_code == 200
    assert response.json() == [{"name": NAME, "displayName": "Test ID"}]
    unknown = await browser.get("/api/auth/oauth/nobody/authorize")
    assert unknown.status_code == 404


async def test_authorize_sends_pkce_state_and_nonce(browser, provider):
    url = urlsplit(await _to_provider(browser))
    assert f"{url.scheme}://{url.netloc}" == provider.issuer
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert browser.cookies.get("atp_oauth")


async def test_new_person_gets_a_buyer_account_and_the_same_tokens_as_a_password_login(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email, given_name="Ada", family_name="Lovelace")
    response = await _sign_in(browser)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == email
    assert body["user"]["userType"] == "buyer" and body["user"]["verificationLevel"] == 0
    assert body["user"]["firstName"] == "Ada"
    profile = await browser.get(
        "/api/auth/profile", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert profile.status_code == 200 and profile.json()["roles"] == ["buyer"]
    rotated = await browser.post("/api/auth/refresh", json={"refreshToken": body["refreshToken"]})
    assert rotated.status_code == 200
    assert await _linked(person["sub"]) == 1
    async with UnitOfWork() as uow:
        password_set = await uow.conn.fetchval(
            "SELECT password_set FROM users WHERE id = $1", uuid.UUID(body["user"]["id"])
        )
    assert password_set is False

    # The same person again: the same account, no second one.
    again = await _sign_in(browser)
    assert again.status_code == 200 and again.json()["user"]["id"] == body["user"]["id"]
    assert await _users_with(email) == 1 and await _linked(person["sub"]) == 1


async def test_web_client_gets_the_refresh_token_as_a_cookie(browser, provider):
    provider.sign_in_as(email=_email())
    callback = await _provider_answer(await _to_provider(browser, "/saved"))
    back = await browser.get(callback)
    location = urlsplit(back.headers["location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == ["/saved"]
    code = location.fragment.removeprefix("oauth=")
    response = await browser.post(
        "/api/auth/oauth/exchange", json={"code": code}, headers={"X-ATP-Client": "web"}
    )
    assert response.status_code == 200
    assert response.json()["refreshToken"] == ""
    assert browser.cookies.get("atp_refresh", path="/api/auth")


async def test_verified_email_links_to_the_existing_account(browser, provider, accounts):
    existing = await accounts.create("seller")
    person = provider.sign_in_as(email=existing["email"].upper())
    response = await _sign_in(browser)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == existing["id"]
    assert response.json()["user"]["userType"] == "seller"
    assert await _linked(person["sub"]) == 1
    listed = await browser.get("/api/me/identities", headers=existing["headers"])
    assert listed.status_code == 200
    [identity] = listed.json()
    assert identity["provider"] == NAME and identity["displayName"] == "Test ID"
    assert identity["email"] == existing["email"].lower()


async def test_unverified_email_never_attaches_to_an_existing_account(browser, provider, accounts):
    existing = await accounts.create("buyer")
    person = provider.sign_in_as(email=existing["email"], email_verified=False)
    callback = await _provider_answer(await _to_provider(browser))
    _assert_oauth_failed(await browser.get(callback))
    assert await _linked(person["sub"]) == 0
    assert await _users_with(existing["email"]) == 1


async def test_unverified_email_makes_no_new_account_either(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email, email_verified=False)
    callback = await _provider_answer(await _to_provider(browser))
    _assert_oauth_failed(await browser.get(callback))
    assert await _linked(person["sub"]) == 0 and await _users_with(email) == 0


async def test_replayed_codes_are_refused(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email)
    callback = await _provider_answer(await _to_provider(browser))
    first = await browser.get(callback)
    assert first.status_code == 302
    one_time = urlsplit(first.headers["location"]).fragment.removeprefix("oauth=")

    # The provider's redirect again: its state is spent.
    _assert_oauth_failed(await browser.get(callback))
    # The provider's code under a fresh flow of ours: the provider refuses to redeem it twice.
    fresh_state = parse_qs(urlsplit(await _to_provider(browser)).query)["state"][0]
    old_code = parse_qs(urlsplit(callback).query)["code"][0]
    _assert_oauth_failed(
        await browser.get(f"/api/auth/oauth/{NAME}/callback", params={"state": fresh_state, "code": old_code})
    )
    # Our one-time code: once.
    assert (await browser.post("/api/auth/oauth/exchange", json={"code": one_time})).status_code == 200
    _assert_oauth_failed(await browser.post("/api/auth/oauth/exchange", json={"code": one_time}))
    assert await _linked(person["sub"]) == 1 and await _users_with(email) == 1


async def test_forged_state_is_refused(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email)
    callback = await _provider_answer(await _to_provider(browser))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    forged = await browser.get(f"/api/auth/oauth/{NAME}/callback", params={"state": "f" * 43, "code": code})
    _assert_oauth_failed(forged)
    _assert_oauth_failed(await browser.get(f"/api/auth/oauth/{NAME}/callback", params={"code": code}))
    assert await _linked(person["sub"]) == 0 and await _users_with(email) == 0


async def test_state_from_another_browser_is_refused(browser, provider, configured):
    email = _email()
    person = provider.sign_in_as(email=email)
    callback = await _provider_answer(await _to_provider(browser))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=configured), base_url="http://testserver"
    ) as victim:
        _assert_oauth_failed(await victim.get(callback))
    assert await _linked(person["sub"]) == 0 and await _users_with(email) == 0


async def test_one_time_code_works_only_in_the_browser_that_signed_in(browser, provider, configured):
    provider.sign_in_as(email=_email())
    back = await browser.get(await _provider_answer(await _to_provider(browser)))
    code = urlsplit(back.headers["location"]).fragment.removeprefix("oauth=")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=configured), base_url="http://testserver"
    ) as other:
        _assert_oauth_failed(await other.post("/api/auth/oauth/exchange", json={"code": code}))


async def test_wrong_nonce_is_refused(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email)
    provider.claim_overrides = {"nonce": "n" * 43}
    callback = await _provider_answer(await _to_provider(browser))
    _assert_oauth_failed(await browser.get(callback))
    assert await _linked(person["sub"]) == 0 and await _users_with(email) == 0


@pytest.mark.parametrize("kid", [KID, "unpublished-key"])
async def test_id_token_signed_by_another_key_is_refused(browser, provider, kid):
    email = _email()
    person = provider.sign_in_as(email=email)
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": kid})
    callback = await _provider_answer(await _to_provider(browser))
    _assert_oauth_failed(await browser.get(callback))
    assert await _linked(person["sub"]) == 0 and await _users_with(email) == 0


async def test_id_token_for_another_client_is_refused(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email)
    provider.claim_overrides = {"aud": ["someone-else"]}
    _assert_oauth_failed(await browser.get(await _provider_answer(await _to_provider(browser))))
    assert await _linked(person["sub"]) == 0


async def test_email_missing_from_the_id_token_is_read_from_userinfo(browser, provider):
    email = _email()
    person = provider.sign_in_as(email=email)
    provider.claim_overrides = {"email": None, "email_verified": None}
    response = await _sign_in(browser)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == email
    assert await _linked(person["sub"]) == 1


async def test_a_rotated_provider_key_is_fetched_again(browser, provider, configured):
    provider.sign_in_as(email=_email())
    assert (await _sign_in(browser)).status_code == 200  # the key set is cached now
    # Another test may have just used the once-a-minute refetch; this one starts with it available.
    redis = configured.state.redis
    await redis.delete(*[key async for key in redis.scan_iter("atp:oidc:jwks-refetch:*")])
    old = provider.key
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "rotated-key", "use": "sig", "alg": "RS256"})
    try:
        provider.sign_in_as(email=_email())
        assert (await _sign_in(browser)).status_code == 200
    finally:
        provider.key = old
        await redis.delete(*[key async for key in redis.scan_iter("atp:oidc:jwks*")])


async def test_denied_consent_is_refused(browser, provider):
    provider.person = None
    url = await _to_provider(browser)
    async with httpx.AsyncClient() as outside:
        denied = await outside.get(url)
    back = urlsplit(denied.headers["location"])
    assert "error=access_denied" in back.query
    _assert_oauth_failed(await browser.get(f"{back.path}?{back.query}"))


async def test_redirect_stays_on_this_site(browser, provider):
    provider.sign_in_as(email=_email())
    callback = await _provider_answer(await _to_provider(browser, "//evil.example/x"))
    back = await browser.get(callback)
    location = urlsplit(back.headers["location"])
    assert location.netloc == "" and location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/"]


async def test_unlink_keeps_one_way_in(browser, provider, accounts):
    # An account made by the provider has no password: its only identity cannot go.
    person = provider.sign_in_as(email=_email())
    made = (await _sign_in(browser)).json()
    headers = {"Authorization": f"Bearer {made['accessToken']}"}
    [identity] = (await browser.get("/api/me/identities", headers=headers)).json()
    refused = await browser.delete(f"/api/me/identities/{identity['id']}", headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "last_sign_in_method"
    assert await _linked(person["sub"]) == 1

    # Someone else cannot remove it, and an account with a password may unlink freely.
    existing = await accounts.create("buyer")
    other = await browser.delete(f"/api/me/identities/{identity['id']}", headers=existing["headers"])
    assert other.status_code == 404
    linked = provider.sign_in_as(email=existing["email"])
    assert (await _sign_in(browser)).status_code == 200
    [mine] = (await browser.get("/api/me/identities", headers=existing["headers"])).json()
    assert (
        await browser.delete(f"/api/me/identities/{mine['id']}", headers=existing["headers"])
    ).status_code == 204
    assert await _linked(linked["sub"]) == 0


def test_symmetric_and_unsigned_id_tokens_are_refused():
    keys = RSAKey.generate_key(2048, parameters={"kid": "k"})
    from joserfc.jwk import KeySet

    claims = {"iss": "https://idp", "aud": "me", "sub": "1", "exp": 4_000_000_000, "iat": 1, "nonce": "n"}
    hs = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("s" * 32))
    with pytest.raises(JoseError):
        check_id_token(hs, KeySet([keys]), issuer="https://idp", client_id="me", nonce="n")
    good = jwt.encode({"alg": "RS256", "kid": "k"}, claims, keys)
    assert check_id_token(good, KeySet([keys]), issuer="https://idp", client_id="me", nonce="n")["sub"] == "1"
    with pytest.raises(JoseError):
        check_id_token(good, KeySet([keys]), issuer="https://other", client_id="me", nonce="n")
    expired = jwt.encode({"alg": "RS256", "kid": "k"}, {**claims, "exp": 1000}, keys)
    with pytest.raises(JoseError):
        check_id_token(expired, KeySet([keys]), issuer="https://idp", client_id="me", nonce="n")


def test_provider_configuration_from_the_environment():
    env = {
        "ATP_OIDC_PROVIDERS": "google, microsoft",
        "ATP_OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
        "ATP_OIDC_GOOGLE_CLIENT_ID": "g-id",
        "ATP_OIDC_GOOGLE_CLIENT_SECRET": "g-secret",
        "ATP_OIDC_MICROSOFT_ISSUER": "https://login.microsoftonline.com/tenant/v2.0",
        "ATP_OIDC_MICROSOFT_CLIENT_ID": "m-id",
        "ATP_OIDC_MICROSOFT_NAME": "Microsoft",
    }
    google, microsoft = load_oidc_providers(env)
    assert (google.name, google.display_name, google.client_secret) == ("google", "Google", "g-secret")
    assert microsoft.display_name == "Microsoft" and microsoft.issuer.endswith("/v2.0")
    with pytest.raises(ValueError):
        load_oidc_providers({**env, "ATP_OIDC_GOOGLE_ISSUER": "http://accounts.google.com"})
    with pytest.raises(ValueError):
        load_oidc_providers({"ATP_OIDC_PROVIDERS": "x"})


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/listings/1?tab=specs", "/listings/1?tab=specs"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/ok\nSet-Cookie:x", "/"),
        ("", "/"),
        ("/" + "a" * 600, "/"),
    ],
)
def test_only_paths_on_this_site_are_returned_to(asked, kept):
    assert safe_redirect(asked) == kept

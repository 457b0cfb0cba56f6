"""Sign-in with an identity provider (API.md "Sign-in with an identity provider") and linked identities.

authorize → the flow's state, nonce and PKCE verifier wait in Redis (10 min, single use), bound to an httpOnly
browser cookie → callback: the id_token is checked (app/auth/oidc.py), the identity is found, linked by a verified
email, or becomes a new buyer account → a one-time code (2 min, same cookie) → exchange: the same token pair as
a password login.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime
from typing import Annotated

import asyncpg
import msgspec
from msgspec import Meta
from redis.asyncio import Redis

from app.accounts import service
from app.accounts.schemas import AuthResponse, user_read
from app.accounts.sessions import ClientContext
from app.auth import oidc
from app.auth.oidc import OAuthFailed
from app.auth.oidc_config import OidcProvider
from app.auth.principal import Principal
from app.auth.tokens import TokenSigner
from app.core.db import UnitOfWork
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.schema import Schema
from app.settings import Settings

audit = logging.getLogger("atp.security")

FLOW_TTL_S = 600
LOGIN_CODE_TTL_S = 120
MAX_REDIRECT_LENGTH = 512


class OAuthProviderRead(Schema):
    name: str
    display_name: str


class OAuthExchange(Schema):
    code: Annotated[str, Meta(min_length=1, max_length=100)]


class IdentityRead(Schema):
    id: uuid.UUID
    provider: str
    display_name: str
    email: str
    created_at: datetime
    last_login_at: datetime | None = None


class LastSignInMethod(Conflict):
    code, title = "last_sign_in_method", "This is the only way to sign in to this account"


class _Flow(msgspec.Struct, frozen=True):
    provider: str
    nonce: str
    verifier: str
    redirect: str
    browser: str


class _Login(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    browser: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def provider_list(settings: Settings) -> list[OAuthProviderRead]:
    return [OAuthProviderRead(name=p.name, display_name=p.display_name) for p in settings.oidc_providers]


def find_provider(settings: Settings, name: str) -> OidcProvider:
    for provider in settings.oidc_providers:
        if provider.name == name:
            return provider
    raise NotFound("no identity provider of that name is configured")


def safe_redirect(path: str | None) -> str:
    """A path on this site to return to; anything else (other hosts, `//x`, `/\\x`) becomes `/`."""
    if not path or len(path) > MAX_REDIRECT_LENGTH or not path.startswith("/") or path.startswith("//"):
        return "/"
    if "\\" in path or any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        return "/"
    return path


def redirect_uri(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.public_url}/api/auth/oauth/{provider.name}/callback"


async def start(
    redis: Redis, settings: Settings, provider: OidcProvider, *, redirect: str, browser: str
) -> str:
    """Remember a new flow for this browser and return the provider's authorization URL."""
    meta = await oidc.metadata(redis, provider)
    state, nonce, verifier = oidc.new_secret(), oidc.new_secret(), oidc.new_code_verifier()
    flow = _Flow(provider.name, nonce, verifier, safe_redirect(redirect), _digest(browser))
    await redis.set(f"atp:oidc:flow:{_digest(state)}", msgspec.json.encode(flow), ex=FLOW_TTL_S)
    return oidc.authorization_url(
        provider,
        meta,
        redirect_uri=redirect_uri(settings, provider),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )


async def finish(
    redis: Redis,
    settings: Settings,
    provider: OidcProvider,
    *,
    state: str,
    code: str,
    error: str,
    browser: str,
) -> tuple[str, str]:
    """Check the provider's answer and sign the person in: (one-time code, path to return to)."""
    raw = await redis.getdel(f"atp:oidc:flow:{_digest(state)}") if state else None
    if raw is None:
        raise OAuthFailed("this sign-in is unknown, expired or already finished; start again")
    flow = msgspec.json.decode(raw, type=_Flow)
    if not browser or not secrets.compare_digest(flow.browser, _digest(browser)):
        raise OAuthFailed("this sign-in was started in another browser")
    if flow.provider != provider.name:
        raise OAuthFailed("this sign-in was started with another provider")
    if error or not code:
        raise OAuthFailed("the identity provider did not sign you in")
    identity = await oidc.identity_from_code(
        redis,
        provider,
        code=code,
        redirect_uri=redirect_uri(settings, provider),
        code_verifier=flow.verifier,
        nonce=flow.nonce,
    )
    async with UnitOfWork() as uow:
        user_id, how = await _user_for(uow.conn, provider, identity)
    audit.info("oauth_signed_in", extra={"user_id": str(user_id), "provider": provider.name, "how": how})
    one_time = oidc.new_secret()
    login = _Login(user_id=user_id, browser=flow.browser)
    await redis.set(f"atp:oidc:login:{_digest(one_time)}", msgspec.json.encode(login), ex=LOGIN_CODE_TTL_S)
    return one_time, flow.redirect


async def _user_for(conn: asyncpg.Connection, provider: OidcProvider, identity: oidc.Identity) -> tuple:
    """The account of this identity: already linked, linked now by a verified email, or new."""
    row = await conn.fetchrow(
        """SELECT i.id, i."user", u.status FROM user_identities i JOIN users u ON u.id = i."user"
           WHERE i.provider = $1 AND i.subject = $2 AND i.issuer = $3""",
        provider.name,
        identity.subject,
        provider.issuer,
    )
    # A `sub` is unique only within its issuer: if a provider's issuer is changed, its old links stop matching
    # (and, sharing the (provider, subject) index, are never silently taken over by the new issuer).
    if row is not None:
        if row["status"] == "suspended":
            raise OAuthFailed("this account is suspended")
        await conn.execute(
            "UPDATE user_identities SET last_login_at = now(), email = $2 WHERE id = $1",
            row["id"],
            identity.email[:255],
        )
        return row["user"], "existing"
    if not identity.email or not identity.email_verified:
        # Without a verified email we cannot tell whose account this is, nor give the address to a new one.
        raise OAuthFailed("the identity provider has not verified this account's email address")
    user = await conn.fetchrow(
        "SELECT id, status, totp_enabled FROM users WHERE lower(email) = $1 FOR UPDATE", identity.email
    )
    how = "linked"
    if user is not None:
        if user["status"] == "suspended":
            raise OAuthFailed("this account is suspended")
        if user["totp_enabled"]:
            # A provider sign-in would skip the second factor the owner chose: never attach one on our own.
            raise OAuthFailed("this account uses two-factor authentication; log in with your password")
        user_id = user["id"]
    else:
        how = "created"
        try:
            async with conn.transaction():
                created = await service.create_user(
                    conn,
                    email=identity.email,
                    password=secrets.token_urlsafe(32),
                    user_type="buyer",
                    first_name=identity.given_name,
                    last_name=identity.family_name,
                )
        except service.EmailTaken:
            raise OAuthFailed("an account with this email was created meanwhile; try again") from None
        user_id = created["id"]
        await conn.execute("UPDATE users SET password_set = false WHERE id = $1", user_id)
    inserted = await conn.fetchval(
        """INSERT INTO user_identities ("user", provider, issuer, subject, email, last_login_at)
           VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (provider, subject) DO NOTHING RETURNING id""",
        user_id,
        provider.name,
        provider.issuer,
        identity.subject,
        identity.email,
    )
    if inserted is None:
        raise OAuthFailed("this identity was linked by another sign-in meanwhile; try again")
    return user_id, how


async def exchange(
    redis: Redis,
    *,
    code: str,
    browser: str,
    signer: TokenSigner,
    settings: Settings,
    client: ClientContext | None = None,
) -> AuthResponse:
    """Swap the callback's one-time code for the token pair a password login gives."""
    raw = await redis.getdel(f"atp:oidc:login:{_digest(code)}") if code else None
    if raw is None:
        raise OAuthFailed("this sign-in code is unknown, expired or already used")
    login = msgspec.json.decode(raw, type=_Login)
    if not browser or not secrets.compare_digest(login.browser, _digest(browser)):
        raise OAuthFailed("this sign-in code belongs to another browser")
    async with UnitOfWork() as uow:
        user = await service.get_user(uow.conn, login.user_id)
        if user["status"] == "suspended":
            raise OAuthFailed("this account is suspended")
        await uow.conn.execute("UPDATE users SET last_login = now() WHERE id = $1", user["id"])
        # The same session as a password login (one refresh family, the same access-token claims).
        pair = await service._start_session(uow.conn, signer, settings, user, client=client)
    return AuthResponse(
        user=user_read(user),
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


async def list_identities(principal: Principal, settings: Settings) -> list[IdentityRead]:
    names = {p.name: p.display_name for p in settings.oidc_providers}
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            """SELECT id, provider, email, created_at, last_login_at FROM user_identities
               WHERE "user" = $1 ORDER BY created_at""",
            principal.user_id,
        )
    return [
        IdentityRead(
            id=r["id"],
            provider=r["provider"],
            display_name=names.get(r["provider"], r["provider"]),
            email=r["email"],
            created_at=r["created_at"],
            last_login_at=r["last_login_at"],
        )
        for r in rows
    ]


async def unlink(principal: Principal, identity_id: uuid.UUID) -> None:
    """Remove a linked identity, unless it is the only way into an account without a password."""
    if principal.api_key_id is not None:
        raise Forbidden("sign-in methods are managed from a signed-in session, not with an API key")
    async with UnitOfWork() as uow:
        password_set = await uow.conn.fetchval(
            "SELECT password_set FROM users WHERE id = $1 FOR UPDATE", principal.user_id
        )
        ids = await uow.conn.fetch('SELECT id FROM user_identities WHERE "user" = $1', principal.user_id)
        if identity_id not in {r["id"] for r in ids}:
            raise NotFound("linked identity not found")
        if not password_set and len(ids) == 1:
            raise LastSignInMethod(
                "this account has no password: link another provider before removing this one"
            )
        await uow.conn.execute("DELETE FROM user_identities WHERE id = $1", identity_id)

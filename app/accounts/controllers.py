"""HTTP endpoints of accounts and auth (API.md "Auth")."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from redis.asyncio import Redis

from app.accounts import profiles, reauth, service, sessions, web_session
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuthResponse,
    LoginRequest,
    PasswordChange,
    ProfileResponse,
    PublicProfile,
    RecentPassword,
    RefreshRequest,
    RegisterRequest,
    SessionRead,
    TokenPair,
    TotpCodeRequest,
    TotpSetup,
)
from app.auth.principal import Principal
from app.auth.tokens import TokenSigner
from app.core.logging import audit_log
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
BEARER = [{"BearerToken": []}]  # the account's own security settings: a person's log in, never an API key


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", summary="Create an account (buyer, seller or broker)")
    async def register(
        self,
        request: Request,
        data: JSONBody[RegisterRequest],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
    ) -> Response[AuthResponse]:
        result = await service.register(
            data, signer=signer, settings=settings, client=client_context(request)
        )
        return web_session.token_response(request, settings, result, HTTP_201_CREATED)

    @post("/login", status_code=HTTP_200_OK, summary="Log in; `totp` is required once 2FA is on")
    async def login(
        self,
        request: Request,
        data: JSONBody[LoginRequest],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> Response[AuthResponse]:
        try:
            result = await service.login(
                data, signer=signer, settings=settings, redis=redis, client=client_context(request)
            )
        except Exception as exc:
            audit_log.info(
                "login_failed",
                extra={
                    "email_hash": _email_tag(data.email),
                    "reason": type(exc).__name__,
                    "client": request.client.host if request.client else None,
                },
            )
            raise
        audit_log.info("login_succeeded", extra={"user_id": str(result.user.id)})
        return web_session.token_response(request, settings, result, HTTP_200_OK)

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        summary="Rotate a refresh token (web app: no body, the atp_refresh cookie and X-ATP-Client: web)",
    )
    async def refresh(
        self,
        request: Request,
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
        data: JSONBody[RefreshRequest | None] = None,
    ) -> Response[TokenPair]:
        token = web_session.presented_refresh_token(request, data)
        pair = await service.refresh(
            token, signer=signer, settings=settings, redis=redis, client=client_context(request)
        )
        return web_session.token_response(request, settings, pair, HTTP_200_OK)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        security=SECURED,
        summary="Revoke this token and its login",
    )
    async def logout(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        await service.logout(principal, redis=redis, ttl_s=settings.access_token_ttl_s)
        # Annotated None so the document says "204, no body"; Litestar sends a returned Response as is.
        return web_session.logged_out(request, settings)  # type: ignore[return-value]

    @get("/profile", security=SECURED, summary="The caller with roles and permissions")
    async def profile(self, principal: NamedDependency[Principal]) -> ProfileResponse:
        return await service.profile(principal)

    @post(
        "/totp/enable",
        status_code=HTTP_200_OK,
        security=BEARER,
        summary="Start TOTP enrolment (a log in under 10 minutes old, or `currentPassword`)",
    )
    async def totp_enable(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        data: JSONBody[RecentPassword | None] = None,
    ) -> TotpSetup:
        return await service.totp_enable(principal, data.current_password if data else None, redis=redis)

    @post(
        "/totp/confirm", status_code=HTTP_204_NO_CONTENT, security=BEARER, summary="Turn TOTP on with a code"
    )
    async def totp_confirm(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[TotpCodeRequest],
        redis: NamedDependency[Redis],
    ) -> None:
        await service.totp_confirm(principal, data.code, data.current_password, redis=redis)

    @post(
        "/totp/disable",
        status_code=HTTP_204_NO_CONTENT,
        security=BEARER,
        summary="Turn TOTP off with a code",
    )
    async def totp_disable(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[TotpCodeRequest],
        redis: NamedDependency[Redis],
    ) -> None:
        await service.totp_disable(principal, data.code, data.current_password, redis=redis)


class MeController(Controller):
    """The account itself: API keys, sessions, password. A person's log in only, never an API key."""

    path = "/api/me"
    tags = ["auth"]
    security = BEARER

    @post("/api-keys", summary="Create a bot API key with scopes (shown once; `read` only by default)")
    async def create_api_key(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[ApiKeyCreate],
        redis: NamedDependency[Redis],
    ) -> ApiKeyCreated:
        return await service.create_api_key(principal, data, redis=redis)

    @get("/api-keys", summary="List your API keys")
    async def list_api_keys(self, principal: NamedDependency[Principal]) -> list[ApiKeyRead]:
        return await service.list_api_keys(principal)

    @delete("/api-keys/{key_id:uuid}", summary="Revoke an API key")
    async def revoke_api_key(
        self, principal: NamedDependency[Principal], key_id: FromPath[uuid.UUID]
    ) -> None:
        await service.revoke_api_key(principal, key_id)

    @get("/sessions", summary="Your signed-in sessions (devices), newest first; `current` is this one")
    async def list_sessions(
        self,
        principal: NamedDependency[Principal],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[SessionRead]:
        return await sessions.list_sessions(principal, limit=limit, cursor=cursor)

    @delete(
        "/sessions/{session_id:uuid}", summary="End one session: its tokens stop working, its sockets close"
    )
    async def revoke_session(
        self,
        principal: NamedDependency[Principal],
        session_id: FromPath[uuid.UUID],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        await sessions.revoke_session(principal, session_id, redis=redis, ttl_s=settings.access_token_ttl_s)
        audit_log.info(
            "session_revoked", extra={"user_id": str(principal.user_id), "session_id": str(session_id)}
        )

    @delete("/sessions", summary="End every session but this one")
    async def revoke_other_sessions(
        self,
        principal: NamedDependency[Principal],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        await sessions.end_other_sessions(principal, redis=redis, ttl_s=settings.access_token_ttl_s)
        audit_log.info("other_sessions_revoked", extra={"user_id": str(principal.user_id)})

    @post(
        "/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change the password; every other session ends",
    )
    async def change_password(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[PasswordChange],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        await reauth.change_password(principal, data, redis=redis, ttl_s=settings.access_token_ttl_s)
        audit_log.info("password_changed", extra={"user_id": str(principal.user_id)})


def client_context(request: Request) -> sessions.ClientContext:
    """The real client address (uvicorn applies X-Forwarded-For only from --forwarded-allow-ips) and UA."""
    return sessions.ClientContext(
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:512],
    )


def _email_tag(email: str) -> str:
    import hashlib

    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


class ProfileController(Controller):
    """Public profiles of sellers and brokers; their inventory is `GET /api/listings?sellerId=`."""

    path = "/api/profiles"
    tags = ["accounts"]

    @get("/{user_id:uuid}", summary="A seller's or broker's public profile (no contact details)")
    async def public_profile(self, user_id: FromPath[uuid.UUID]) -> PublicProfile:
        return await profiles.public_profile(user_id)

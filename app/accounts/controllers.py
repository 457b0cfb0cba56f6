"""HTTP endpoints of accounts and auth (API.md "Auth")."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from redis.asyncio import Redis

from app.accounts import service, web_session
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuthResponse,
    LoginRequest,
    ProfileResponse,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TotpCodeRequest,
    TotpSetup,
)
from app.auth.principal import Principal
from app.auth.tokens import TokenSigner
from app.core.logging import audit_log
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]


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
        result = await service.register(data, signer=signer, settings=settings)
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
            result = await service.login(data, signer=signer, settings=settings, redis=redis)
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
        data: JSONBody[RefreshRequest | None] = None,
    ) -> Response[TokenPair]:
        token = web_session.presented_refresh_token(request, data)
        pair = await service.refresh(token, signer=signer, settings=settings)
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
        await service.logout(principal, redis=redis)
        # Annotated None so the document says "204, no body"; Litestar sends a returned Response as is.
        return web_session.logged_out(request, settings)  # type: ignore[return-value]

    @get("/profile", security=SECURED, summary="The caller with roles and permissions")
    async def profile(self, principal: NamedDependency[Principal]) -> ProfileResponse:
        return await service.profile(principal)

    @post("/totp/enable", status_code=HTTP_200_OK, security=SECURED, summary="Start TOTP enrolment")
    async def totp_enable(self, principal: NamedDependency[Principal]) -> TotpSetup:
        return await service.totp_enable(principal)

    @post(
        "/totp/confirm", status_code=HTTP_204_NO_CONTENT, security=SECURED, summary="Turn TOTP on with a code"
    )
    async def totp_confirm(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[TotpCodeRequest],
        redis: NamedDependency[Redis],
    ) -> None:
        await service.totp_confirm(principal, data.code, redis=redis)

    @post(
        "/totp/disable",
        status_code=HTTP_204_NO_CONTENT,
        security=SECURED,
        summary="Turn TOTP off with a code",
    )
    async def totp_disable(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[TotpCodeRequest],
        redis: NamedDependency[Redis],
    ) -> None:
        await service.totp_disable(principal, data.code, redis=redis)


class MeController(Controller):
    path = "/api/me"
    tags = ["auth"]
    security = SECURED

    @post("/api-keys", summary="Create a bot API key (shown once)")
    async def create_api_key(
        self, principal: NamedDependency[Principal], data: JSONBody[ApiKeyCreate]
    ) -> ApiKeyCreated:
        return await service.create_api_key(principal, data)

    @get("/api-keys", summary="List your API keys")
    async def list_api_keys(self, principal: NamedDependency[Principal]) -> list[ApiKeyRead]:
        return await service.list_api_keys(principal)

    @delete("/api-keys/{key_id:uuid}", summary="Revoke an API key")
    async def revoke_api_key(
        self, principal: NamedDependency[Principal], key_id: FromPath[uuid.UUID]
    ) -> None:
        await service.revoke_api_key(principal, key_id)


def _email_tag(email: str) -> str:
    import hashlib

    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]

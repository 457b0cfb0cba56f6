"""HTTP endpoints of accounts and auth (API.md "Auth")."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from redis.asyncio import Redis

from app.accounts import service
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
        data: JSONBody[RegisterRequest],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
    ) -> AuthResponse:
        return await service.register(data, signer=signer, settings=settings)

    @post("/login", status_code=HTTP_200_OK, summary="Log in; `totp` is required once 2FA is on")
    async def login(
        self,
        request: Request,
        data: JSONBody[LoginRequest],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> AuthResponse:
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
        return result

    @post("/refresh", status_code=HTTP_200_OK, summary="Rotate a refresh token")
    async def refresh(
        self,
        data: JSONBody[RefreshRequest],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
    ) -> TokenPair:
        return await service.refresh(data.refresh_token, signer=signer, settings=settings)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        security=SECURED,
        summary="Revoke this token and its login",
    )
    async def logout(self, principal: NamedDependency[Principal], redis: NamedDependency[Redis]) -> None:
        await service.logout(principal, redis=redis)

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

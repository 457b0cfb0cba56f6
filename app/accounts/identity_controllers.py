"""HTTP endpoints of sign-in with an identity provider and of the caller's linked identities."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND
from redis.asyncio import Redis

from app.accounts import identities, web_session
from app.accounts.controllers import client_context
from app.accounts.identities import IdentityRead, OAuthExchange, OAuthProviderRead
from app.accounts.schemas import AuthResponse
from app.auth import oidc
from app.auth.principal import Principal
from app.auth.tokens import TokenSigner
from app.settings import Settings

SECURED = [{"BearerToken": []}, {"ApiKey": []}]
# Ties a flow and its one-time code to the browser that started it. Lax, not Strict: the provider sends the
# browser back with a top-level cross-site GET, which a Strict cookie would not accompany.
BROWSER_COOKIE = "atp_oauth"
BROWSER_COOKIE_PATH = "/api/auth/oauth"
QueryText = Annotated[str, QueryParameter(max_length=2048)]


def _browser(request: Request) -> str:
    value = request.cookies.get(BROWSER_COOKIE, "")
    return value if 32 <= len(value) <= 64 else ""


def _set_browser(request: Request, settings: Settings, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        key=BROWSER_COOKIE,
        value=value,
        max_age=max_age,
        path=BROWSER_COOKIE_PATH,
        secure=request.url.scheme == "https" or settings.is_production,
        httponly=True,
        samesite="lax",
    )


class OAuthController(Controller):
    path = "/api/auth/oauth"
    tags = ["auth"]

    @get("/providers", summary="Identity providers this server offers for sign-in")
    async def providers(self, settings: NamedDependency[Settings]) -> list[OAuthProviderRead]:
        return identities.provider_list(settings)

    @get(
        "/{name:str}/authorize",
        status_code=HTTP_302_FOUND,
        summary="Start signing in with a provider (302 to it; authorization code + PKCE S256, state, nonce)",
    )
    async def authorize(
        self,
        request: Request,
        name: FromPath[str],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
        redirect: Annotated[str | None, QueryParameter(max_length=identities.MAX_REDIRECT_LENGTH)] = None,
    ) -> Redirect:
        provider = identities.find_provider(settings, name)
        browser = _browser(request) or oidc.new_secret()
        url = await identities.start(redis, settings, provider, redirect=redirect or "/", browser=browser)
        response = Redirect(url, status_code=HTTP_302_FOUND, headers={"Cache-Control": "no-store"})
        _set_browser(request, settings, response, browser, identities.FLOW_TTL_S)
        return response

    @get(
        "/{name:str}/callback",
        status_code=HTTP_302_FOUND,
        summary="The provider's redirect back: 302 to the app's log-in page with a one-time code",
    )
    async def callback(
        self,
        request: Request,
        name: FromPath[str],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
        oauth_state: Annotated[str, QueryParameter(name="state", max_length=2048)] = "",
        code: QueryText = "",
        error: QueryText = "",
    ) -> Redirect:
        provider = identities.find_provider(settings, name)
        try:
            one_time, redirect = await identities.finish(
                redis,
                settings,
                provider,
                state=oauth_state,
                code=code,
                error=error,
                browser=_browser(request),
            )
        except oidc.OAuthFailed as exc:
            identities.audit.info(
                "oauth_failed",
                extra={
                    "provider": provider.name,
                    "reason": exc.detail,
                    "client": request.client.host if request.client else None,
                },
            )
            raise
        # The code travels in the fragment: never sent to a server, never in a Referer or an access log.
        return Redirect(
            f"/login?next={quote(redirect, safe='/')}#oauth={one_time}",
            status_code=HTTP_302_FOUND,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    @post(
        "/exchange",
        status_code=HTTP_200_OK,
        summary="Swap the callback's one-time code for tokens (web app: X-ATP-Client: web, as for /login)",
    )
    async def exchange(
        self,
        request: Request,
        data: JSONBody[OAuthExchange],
        signer: NamedDependency[TokenSigner],
        settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> Response[AuthResponse]:
        result = await identities.exchange(
            redis,
            code=data.code,
            browser=_browser(request),
            signer=signer,
            settings=settings,
            client=client_context(request),
        )
        response = web_session.token_response(request, settings, result, HTTP_200_OK)
        _set_browser(request, settings, response, "", 0)
        return response


class IdentityController(Controller):
    path = "/api/me/identities"
    tags = ["auth"]
    security = SECURED

    @get(summary="Identity providers linked to your account")
    async def list_identities(
        self, principal: NamedDependency[Principal], settings: NamedDependency[Settings]
    ) -> list[IdentityRead]:
        return await identities.list_identities(principal, settings)

    @delete("/{identity_id:uuid}", summary="Unlink an identity provider (not the last way into the account)")
    async def unlink_identity(
        self, principal: NamedDependency[Principal], identity_id: FromPath[uuid.UUID]
    ) -> None:
        await identities.unlink(principal, identity_id)

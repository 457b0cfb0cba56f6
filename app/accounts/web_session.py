"""The browser session scheme (docs/web-session.md): access token in memory, refresh token in a cookie.

A client opts in with `X-ATP-Client: web`. Its login/refresh answers keep their JSON shape but carry
`refreshToken: ""`: the real token travels only in the httpOnly cookie, out of reach of page scripts.
Refresh from the cookie also requires that header: a custom header cannot be sent cross-site without
a CORS preflight we never grant, which backs up SameSite=Strict against request forgery.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar import Request, Response

from app.accounts.schemas import AuthResponse, RefreshRequest, TokenPair
from app.accounts.service import RefreshRejected
from app.settings import Settings

CLIENT_HEADER = "x-atp-client"
COOKIE = "atp_refresh"
COOKIE_PATH = "/api/auth"
# Not a secret: "1" while a refresh cookie may exist, readable by the page so that anonymous visitors
# never call /api/auth/refresh only to be answered 401 (a console error on every page).
HINT_COOKIE = "atp_session"
_MAX_TOKEN_LENGTH = 200

T = TypeVar("T", AuthResponse, TokenPair)


def is_web(request: Request) -> bool:
    return request.headers.get(CLIENT_HEADER, "").strip().lower() == "web"


def _secure(request: Request, settings: Settings) -> bool:
    return request.url.scheme == "https" or settings.is_production


def token_response(request: Request, settings: Settings, body: T, status_code: int) -> Response[T]:
    """The JSON answer as is for API clients; for the web app, the refresh token moves to the cookie."""
    if not is_web(request):
        return Response(body, status_code=status_code)
    response = Response(
        msgspec.structs.replace(body, refresh_token=""),
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        key=COOKIE,
        value=body.refresh_token,
        max_age=settings.refresh_token_ttl_s,
        path=COOKIE_PATH,
        secure=_secure(request, settings),
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        key=HINT_COOKIE,
        value="1",
        max_age=settings.refresh_token_ttl_s,
        path="/",
        secure=_secure(request, settings),
        httponly=False,
        samesite="strict",
    )
    return response


def presented_refresh_token(request: Request, data: RefreshRequest | None) -> str:
    """The token in the body, else (web app only) the one in the cookie; 401 when there is neither."""
    if data is not None:
        return data.refresh_token
    token = request.cookies.get(COOKIE, "") if is_web(request) else ""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        raise RefreshRejected(
            "send {refreshToken}, or from the web app the atp_refresh cookie with X-ATP-Client: web"
        )
    return token


def logged_out(request: Request, settings: Settings) -> Response[None]:
    """204, clearing the web app's cookie (it names a family that logout just revoked)."""
    response: Response[None] = Response(None, status_code=204)
    if is_web(request):
        response.set_cookie(
            key=COOKIE,
            value="",
            max_age=0,
            path=COOKIE_PATH,
            secure=_secure(request, settings),
            httponly=True,
            samesite="strict",
        )
        response.set_cookie(
            key=HINT_COOKIE,
            value="",
            max_age=0,
            path="/",
            secure=_secure(request, settings),
            httponly=False,
            samesite="strict",
        )
    return response

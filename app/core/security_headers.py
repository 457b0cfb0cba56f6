"""Security headers on every HTTP response: a strict CSP (no inline script or style), nosniff, referrer.

`/schema` (the Scalar and Swagger pages) is left without a CSP: those pages load their scripts from a
CDN and run inline bootstrapping code that a strict policy would block. They serve only API docs.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
_CSP = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
_DOCS_PREFIX = "/schema"


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The headers added to a response for `path` (those the handler set itself are kept)."""
    if path == _DOCS_PREFIX or path.startswith(_DOCS_PREFIX + "/"):
        return list(_ALWAYS)
    return [*_ALWAYS, _CSP]


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: add `headers_for(path)` to each HTTP response start."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware

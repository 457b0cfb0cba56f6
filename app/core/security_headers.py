"""Security headers on every HTTP response: a strict CSP (no inline script or style), nosniff, referrer.

`/schema` (the Scalar and Swagger pages) is left without a CSP: those pages load their scripts from a
CDN and run inline bootstrapping code that a strict policy would block. They serve only API docs.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
_CSP = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
_DOCS_PREFIX = "/schema"


_WITH_CSP = (*_ALWAYS, _CSP)
_DOCS = tuple(_ALWAYS)


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers added to a response for `path` (`app/core/edge.py` keeps those the handler set)."""
    if path == _DOCS_PREFIX or path.startswith(_DOCS_PREFIX + "/"):
        return _DOCS
    return _WITH_CSP
